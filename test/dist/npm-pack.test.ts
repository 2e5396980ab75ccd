/**
 * The npm package as a user gets it: `npm pack` in a clean clone (so prepack must build dist/), the
 * tarball holds only what runs, `npm install -g` of it into a fresh prefix puts a working kubectl-oidc
 * on PATH, and a browser login through real kubectl passes with that command and the agent it starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, requireTools, run, ROOT } from '../e2e/world.js';
import { VERSION } from './release.js';

const skip = requireTools();

test('npm pack from a clean clone, npm install -g of the tarball, a login through it', { skip, timeout: 600_000 }, async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'ko-npm-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const src = join(tmp, 'src');
  const sh = (cmd: string, args: string[], cwd: string, timeout = 300_000) =>
    execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

  // The committed tree only: a clone has no dist/, no build/, no node_modules.
  const head = sh('git', ['rev-parse', 'HEAD'], ROOT).trim();
  sh('git', ['clone', '--quiet', '--no-checkout', ROOT, src], tmp);
  sh('git', ['checkout', '--quiet', head], src);
  sh('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], src);
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', tmp], src)) as { filename: string; files: { path: string }[] }[];
  const tarball = join(tmp, packed[0]!.filename);

  await t.test('the tarball holds only what runs', () => {
    const files = packed[0]!.files.map((f) => f.path).sort();
    assert.deepEqual(files, ['LICENSE', 'README.md', 'dist/cli.cjs', 'dist/kubectl-oidc.cjs', 'dist/kubectl_complete-oidc.cjs', 'dist/main.cjs', 'dist/oidc.cjs', 'dist/yaml.cjs', 'package.json']);
    const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.dependencies), ['@napi-rs/keyring'], 'everything else is bundled into dist/');
  });

  const prefix = join(tmp, 'prefix');
  sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], tmp);
  const exe = join(prefix, 'bin', 'kubectl-oidc');

  await t.test('kubectl-oidc is on the prefix PATH and prints the version', async () => {
    const r = await run(exe, ['--version'], { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin`, HOME: tmp }, 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `kubectl-oidc ${VERSION}\n`);
    // kubectl's plugin completion convention: kubectl_complete-oidc next to it.
    const c = await run(join(prefix, 'bin', 'kubectl_complete-oidc'), ['lo'], { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin`, HOME: tmp }, 30_000);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^login\b/m);
    assert.match(c.stdout, /^logout\b/m);
  });

  await t.test('kubectl auth whoami logs in through the installed command and its agent', async () => {
    const w = await createWorld({ plugin: exe });
    try {
      const r = await w.kubectl(['auth', 'whoami']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /alice@example\.com/);
      assert.equal(await w.launches(), 1);
      const { pid } = JSON.parse(readFileSync(join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.json'), 'utf8')) as { pid: number };
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      assert.equal(realpathSync(cmdline[1]!), realpathSync(join(prefix, 'lib/node_modules/kubectl-oidc/dist/kubectl-oidc.cjs')), 'the agent runs the installed package');
      const again = await w.kubectl(['auth', 'whoami']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await w.launches(), 1);
    } finally {
      await w.close();
    }
  });
});
