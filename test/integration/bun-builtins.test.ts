/**
 * The release executable is Bun running dist/'s bundles: every Node built-in they name must exist under
 * Bun. `import('node:sea')` did not, and the agent silently never started from the executable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BUNDLES = ['cli.cjs', 'main.cjs', 'oidc.cjs', 'yaml.cjs'];

/** Every built-in a bundle require()s or import()s, as written. */
function builtinsIn(src: string): string[] {
  const builtins = new Set(builtinModules);
  const found = new Set<string>();
  for (const m of src.matchAll(/\b(?:require|import)\(\s*"([^"]+)"\s*\)/g)) {
    const id = m[1]!;
    if (id.startsWith('node:') || builtins.has(id.split('/')[0]!)) found.add(id);
  }
  return [...found].sort();
}

test('every Node built-in named by the bundles loads under the pinned Bun', () => {
  const ids = [...new Set(BUNDLES.flatMap((b) => builtinsIn(readFileSync(join(ROOT, 'dist', b), 'utf8'))))].sort();
  assert.ok(ids.includes('node:fs') && ids.length > 10, `found: ${ids.join(' ')}`);
  const script = `const bad = []; for (const id of ${JSON.stringify(ids)}) { try { require(id); } catch (e) { bad.push(id + ': ' + e.message); } } console.log(JSON.stringify(bad));`;
  const r = spawnSync(join(ROOT, 'node_modules/.bin/bun'), ['-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout) as string[], [], 'built-ins missing under Bun');
});

test('the scan sees node:sea (the control: what this test exists to catch)', () => {
  assert.deepEqual(builtinsIn('x(Promise.resolve().then(() => require("node:sea")), import("node:net"), require("stream"), require("./main.cjs"))'), ['node:net', 'node:sea', 'stream']);
  const r = spawnSync(join(ROOT, 'node_modules/.bin/bun'), ['-e', 'require("node:sea")'], { encoding: 'utf8' });
  assert.notEqual(r.status, 0, 'Bun has no node:sea');
});
