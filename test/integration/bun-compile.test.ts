/**
 * scripts/bun-compile.mjs: the release executable compiles for this host from dist/ and runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const HOST = `bun-${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;

test('compile() builds the host executable from dist/, and it answers --version', { timeout: 120_000 }, async (t) => {
  const { compile } = (await import(pathToFileURL(join(ROOT, 'scripts/bun-compile.mjs')).href)) as { compile(o: { target: string; outfile: string }): Promise<{ outfile: string }> };
  const dir = mkdtempSync(join(tmpdir(), 'ko-compile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { outfile } = await compile({ target: HOST, outfile: join(dir, 'kubectl-oidc') });
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(execFileSync(outfile, ['--version'], { encoding: 'utf8' }), `kubectl-oidc ${version}\n`);
  assert.ok(!readFileSync(outfile).includes(ROOT), 'no path of the build machine in the executable');
});
