import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBrowser } from '../../lib/login/browser.js';

const URL_ = 'https://dex.example.com/dex/auth?client_id=k&state=a%20b&x=1';
/** These tests are about how commands are run: the URL straight in argv (the private page has its own tests). */
const DIRECT = { allowedOrigins: ['https://dex.example.com'], viaPage: false };

/** A dir on PATH with fake commands: each records its argv (one per line) in NAME.called, then exits with `code`. */
function fakes(t: { after(fn: () => void): void }, commands: Record<string, number | 'stay'>) {
  const dir = mkdtempSync(join(tmpdir(), 'ko-browser-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, code] of Object.entries(commands)) {
    const tail = code === 'stay' ? 'exec /bin/sleep 5' : `exit ${code}`;
    writeFileSync(join(dir, name), `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, name)}.called"\n${tail}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  const called = async (name: string) => {
    for (let i = 0; i < 40 && !existsSync(join(dir, `${name}.called`)); i++) await sleep(25);
    return existsSync(join(dir, `${name}.called`)) ? readFileSync(join(dir, `${name}.called`), 'utf8').split('\n').slice(0, -1) : undefined;
  };
  return { dir, called };
}
/** PATH holds only the fakes: a real xdg-open on this machine must never run. */
const onlyFakes = (dir: string) => ({ PATH: dir });

test('BROWSER is a colon-separated list: the first that fails is skipped, %s is the URL', async (t) => {
  const f = fakes(t, { broken: 3, good: 0 });
  await openBrowser(URL_, { ...DIRECT,  env: { ...onlyFakes(f.dir), BROWSER: 'missing-browser:broken:good --new-tab %s' }, graceMs: 2000 });
  assert.deepEqual(await f.called('broken'), [URL_]);
  assert.deepEqual(await f.called('good'), ['--new-tab', URL_]);
});

test('BROWSER entry without %s gets the URL appended; %% is a percent sign', async (t) => {
  const f = fakes(t, { good: 0 });
  await openBrowser(URL_, { ...DIRECT,  env: { ...onlyFakes(f.dir), BROWSER: 'good --label=100%%' } });
  assert.deepEqual(await f.called('good'), ['--label=100%', URL_]);
});

test('a browser still running after the grace period counts as started', async (t) => {
  const f = fakes(t, { slow: 'stay', never: 0 });
  await openBrowser(URL_, { ...DIRECT,  env: { ...onlyFakes(f.dir), BROWSER: 'slow:never' }, graceMs: 200 });
  assert.deepEqual(await f.called('slow'), [URL_]);
  assert.equal(await f.called('never'), undefined);
});

test('every BROWSER entry fails: the error names each and why', async (t) => {
  const f = fakes(t, { broken: 2 });
  await assert.rejects(openBrowser(URL_, { ...DIRECT,  env: { ...onlyFakes(f.dir), BROWSER: 'broken:nothere' } }), /broken: exit code 2; nothere: not found/);
});

test('Linux: xdg-open; a failing xdg-open is an error', async (t) => {
  const f = fakes(t, { 'xdg-open': 0 });
  await openBrowser(URL_, { ...DIRECT,  env: onlyFakes(f.dir), platform: 'linux', procVersion: 'Linux version 6.1.0 (debian-kernel@lists.debian.org)' });
  assert.deepEqual(await f.called('xdg-open'), [URL_]);
  const g = fakes(t, { 'xdg-open': 4 });
  await assert.rejects(openBrowser(URL_, { ...DIRECT,  env: onlyFakes(g.dir), platform: 'linux', procVersion: 'Linux version 6.1.0' }), /xdg-open: exit code 4/);
});

test('WSL (/proc/version says microsoft): wslview, then explorer.exe (whose exit code 1 is not a failure)', async (t) => {
  const wsl = 'Linux version 5.15.153.1-microsoft-standard-WSL2';
  const f = fakes(t, { wslview: 0, 'xdg-open': 0 });
  await openBrowser(URL_, { ...DIRECT,  env: onlyFakes(f.dir), platform: 'linux', procVersion: wsl });
  assert.deepEqual(await f.called('wslview'), [URL_]);
  assert.equal(await f.called('xdg-open'), undefined);
  const g = fakes(t, { 'explorer.exe': 1 });
  await openBrowser(URL_, { ...DIRECT,  env: onlyFakes(g.dir), platform: 'linux', procVersion: wsl });
  assert.deepEqual(await g.called('explorer.exe'), [URL_]);
});

test('macOS: open', async (t) => {
  const f = fakes(t, { open: 0 });
  await openBrowser(URL_, { ...DIRECT,  env: onlyFakes(f.dir), platform: 'darwin' });
  assert.deepEqual(await f.called('open'), [URL_]);
});

test('--browser-command wins over BROWSER; a shell line gets the URL as one argument', async (t) => {
  const f = fakes(t, { mine: 0, other: 0 });
  await openBrowser(URL_, { ...DIRECT,  command: 'mine --flag', env: { ...onlyFakes(f.dir), BROWSER: 'other' } });
  assert.deepEqual(await f.called('mine'), ['--flag', URL_]);
  assert.equal(await f.called('other'), undefined);
  await assert.rejects(openBrowser(URL_, { ...DIRECT,  command: join(f.dir, 'nothere'), env: onlyFakes(f.dir) }), /exit code 127|not found/);
});
