/**
 * env-paths' rule (where the cache and log dirs live per OS, honouring XDG_* on Linux) as each of its
 * users applies it: the agent's token cache, the agent log, the client's private socket dir and the npm
 * entry's compile cache (the built dist/kubectl-oidc.cjs). test/fixtures/app-dirs.json is the table as
 * it was before the rule became one function (lib/app-dirs.ts): every case must still land there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOMES, PLATFORMS, probeAll, type Row } from '../support/app-dirs-probe.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const golden = JSON.parse(readFileSync(join(root, 'test/fixtures/app-dirs.json'), 'utf8')) as Record<string, Row>;
const table = probeAll();
const rows = Object.entries(table);

test('the table covers every HOME, OS rule, XDG_* and LOCALAPPDATA case', () => {
  assert.equal(rows.length, HOMES.length * PLATFORMS.length * 4 * 2);
  assert.deepEqual(Object.keys(table).sort(), Object.keys(golden).sort());
});

test('every directory is where it was before the rule became one function', () => {
  for (const [name, row] of rows) assert.deepEqual(row, golden[name], name);
});

test('the agent cache and log dirs are what the env-paths package answers', () => {
  for (const [name, row] of rows) {
    assert.equal(row.cache, row.envPathsCache, name);
    assert.equal(row.log, row.envPathsLog, name);
  }
});

test('the npm entry and the client agree on the cache dir, and with the agent where XDG_CACHE_HOME and HOME are absolute', () => {
  let compared = 0;
  for (const [name, row] of rows) {
    const [home, platform, xdg] = name.split('|');
    if (row.entry === null) {
      // the compile cache is used only with an absolute HOME, and never on Windows
      assert.ok(platform === 'win32' || !home!.startsWith('/'), name);
      continue;
    }
    assert.equal(dirname(row.entry), row.entry.replace(/\/compile-cache$/, ''), name);
    if (row.run?.endsWith('/kubectl-oidc/run')) {
      assert.equal(dirname(row.run), dirname(row.entry), name);
      compared++;
    }
    if (xdg !== 'relative') assert.equal(row.cache, dirname(row.entry), name);
  }
  assert.ok(compared > 20, `compared ${compared} cases`);
});
