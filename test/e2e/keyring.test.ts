/**
 * Issue 4 end to end: the agent keeps sessions in a real Secret Service (gnome-keyring on a private
 * D-Bus), resumes from it, migrates file sessions into it, and falls back without one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, requireTools, cacheFiles, ROOT, type World } from './world.js';
import { startSecretService, startHangingSecretService, missingBinaries, type SecretServiceRig } from '../rig/secret-service.js';
import type { Report } from '../rig/keyring-cli.js';

const missing = missingBinaries();
const skip =
  requireTools() ??
  (missing.length
    ? (() => {
        if (process.env.CI === 'true') throw new Error(`missing ${missing.join(', ')} (Debian: gnome-keyring dbus-daemon dbus-bin)`);
        return `missing ${missing.join(', ')}`;
      })()
    : undefined);

/** Every file under `dir`, for "no token on disk" checks. */
function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: false } as { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}

function keyringItems(ss: SecretServiceRig, w: World): string[] {
  const script = { store: 'keyring', cacheDir: join(w.dir, 'unused'), ops: [{ op: 'list' }] };
  const out = execFileSync(process.execPath, [join(ROOT, 'build/test/rig/keyring-cli.js'), JSON.stringify(script)], {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS },
    encoding: 'utf8',
    timeout: 20_000,
  });
  const report = JSON.parse(out) as Report;
  const value = report.results[0]?.value;
  assert.ok(Array.isArray(value), `list failed: ${out}`);
  return (value as { account: string }[]).map((i) => i.account);
}

/**
 * Every keyring write on the bus (Collection.CreateItem, Item.SetSecret), seen by dbus-monitor, in order.
 * `mark(n)` writes a sentinel item through the keyring CLI and waits until the monitor has seen it, so
 * every write before it has been counted: `sessionWrites()` are the writes that were neither the agent's
 * keyring probe nor a sentinel.
 */
async function watchKeyringWrites(ss: SecretServiceRig, w: World) {
  const child = spawn('dbus-monitor', ['--address', ss.env.DBUS_SESSION_BUS_ADDRESS!, "type='method_call',member='CreateItem'", "type='method_call',member='SetSecret'"], { stdio: ['ignore', 'pipe', 'pipe'] });
  // One block per message: a header line, then its indented arguments (which may come in a later chunk).
  const blocks: string[] = [];
  let partial = '';
  let waiters: (() => void)[] = [];
  let ready!: () => void;
  const started = new Promise<void>((r) => (ready = r));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (/^\S/.test(line) || blocks.length === 0) blocks.push('');
      blocks[blocks.length - 1] += `${line}\n`;
      if (/NameLost|NameAcquired/.test(line)) ready(); // dbus-monitor has become a monitor
    }
    for (const f of [...waiters]) f();
  });
  await started;
  const writes = () => blocks.filter((b) => /member=(CreateItem|SetSecret)/.test(b));
  const cli = (ops: unknown[]) =>
    execFileSync(process.execPath, [join(ROOT, 'build/test/rig/keyring-cli.js'), JSON.stringify({ store: 'keyring', cacheDir: join(w.dir, 'unused'), ops })], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS },
      encoding: 'utf8',
      timeout: 20_000,
    });
  return {
    async mark(n: number): Promise<void> {
      const key = `sentinel-${n}`;
      cli([{ op: 'setRaw', key, value: 'x' }]);
      await new Promise<void>((resolve) => {
        const check = () => {
          if (!writes().some((b) => b.includes(key))) return false;
          waiters = waiters.filter((f) => f !== check);
          resolve();
          return true;
        };
        if (!check()) waiters.push(check);
      });
      cli([{ op: 'delete', key }]);
    },
    /** Writes of session items between sentinel `from` (0: the start) and sentinel `to`. */
    sessionWrites(from: number, to: number): number {
      const all = writes();
      const at = (n: number) => (n === 0 ? -1 : all.findIndex((b) => b.includes(`sentinel-${n}`)));
      return all.slice(at(from) + 1, at(to)).filter((b) => !/probe-|sentinel-/.test(b)).length;
    },
    stop: () => child.kill(),
  };
}

test('sessions in the OS keyring', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  const ss = await startSecretService(join(w.dir, 'ss'));
  t.after(async () => {
    await w.close();
    await ss.stop();
  });
  const bus = { DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS! };
  const args = (storage: string, extra: string[] = []) => [...w.tokenArgs.filter((a) => !a.startsWith('--token-cache-storage')), `--token-cache-storage=${storage}`, ...extra];
  const getToken = (storage: string, extra: string[] = [], env: Record<string, string> = bus) => w.plugin(['get-token', ...args(storage, extra)], { env });
  let token = '';

  await t.test('auto with a working keyring: login, one notice, the session is in the keyring and nowhere on disk', async () => {
    const r = await getToken('auto');
    assert.equal(r.code, 0, r.stderr);
    token = JSON.parse(r.stdout).status.token;
    assert.match(r.stderr, /keeping tokens in the OS keyring/);
    assert.equal(cacheFiles(w).length, 0, 'no token file');
    assert.equal(keyringItems(ss, w).length, 1);
    const home = w.env.HOME!;
    for (const f of [...allFiles(home), ...allFiles(w.env.KUBECTL_OIDC_RUNTIME_DIR!)]) {
      if (f.startsWith(join(w.dir, 'ss'))) continue;
      const text = readFileSync(f, 'latin1');
      assert.ok(!text.includes(token.split('.')[2]!), `token found in ${f}`);
    }
    const again = await getToken('auto');
    assert.equal(again.code, 0);
    assert.doesNotMatch(again.stderr, /keyring/, 'the notice is said once');
  });

  await t.test('a new agent resumes from the keyring without a login', async () => {
    await w.stopAgent();
    const launches = await w.launches();
    const r = await getToken('auto');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status.token, token);
    assert.equal(await w.launches(), launches);
  });

  await t.test('a caller naming another --token-cache-dir: the one keyring item stays (no rewrite, no move that deletes it)', async () => {
    const launches = await w.launches();
    const r = await getToken('auto', [`--token-cache-dir=${join(w.dir, 'another-dir')}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status.token, token);
    assert.equal(keyringItems(ss, w).length, 1, 'the session is still in the keyring');
    await w.stopAgent();
    const again = await getToken('auto');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).status.token, token);
    assert.equal(await w.launches(), launches, 'no login');
  });

  await t.test('the keyring is written only when something changed: resuming and serving write nothing, a refresh writes', async () => {
    await w.stopAgent();
    const mon = await watchKeyringWrites(ss, w);
    try {
      const launches = await w.launches();
      for (const extra of [[], [], [`--token-cache-dir=${join(w.dir, 'third-dir')}`]]) {
        const r = await getToken('auto', extra); // a new agent resumes, then serves, then a caller with another dir
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).status.token, token);
      }
      await mon.mark(1);
      assert.equal(mon.sessionWrites(0, 1), 0, 'nothing changed: no write');
      const refreshed = await getToken('auto', ['--force-refresh']);
      assert.equal(refreshed.code, 0, refreshed.stderr);
      token = JSON.parse(refreshed.stdout).status.token;
      await mon.mark(2);
      assert.ok(mon.sessionWrites(1, 2) >= 1, 'a refresh (new ID token, rotated refresh token) is written: the monitor sees writes');
      await w.stopAgent();
      const r = await getToken('auto');
      assert.equal(JSON.parse(r.stdout).status.token, token, 'what was written is what a new agent resumes');
      await mon.mark(3);
      assert.equal(mon.sessionWrites(2, 3), 0);
      assert.equal(await w.launches(), launches);
    } finally {
      mon.stop();
    }
  });

  await t.test('logout removes the keyring item', async () => {
    const r = await w.plugin(['logout', ...args('auto')], { env: bus });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(keyringItems(ss, w), []);
  });

  await t.test('file -> keyring: the session moves, no new login, nothing left in the file', async () => {
    const extra = ['--oidc-extra-scope=profile']; // another session
    const r1 = await getToken('file', extra);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(cacheFiles(w).length, 1);
    const launches = await w.launches();
    await w.stopAgent();
    const r2 = await getToken('keyring', extra);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(JSON.parse(r2.stdout).status.token, JSON.parse(r1.stdout).status.token);
    assert.equal(await w.launches(), launches, 'no login');
    assert.equal(cacheFiles(w).length, 0, 'the file is gone');
    assert.equal(keyringItems(ss, w).length, 1);
    const out = await w.plugin(['logout', ...args('file', extra)], { env: bus });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(keyringItems(ss, w), [], 'logout under another storage setting still clears the keyring');
  });

  await t.test('no session bus: auto falls back to the file store and says why; keyring fails clearly', async () => {
    await w.stopAgent();
    const noBus = { DBUS_SESSION_BUS_ADDRESS: '' };
    const extra = ['--oidc-extra-scope=phone'];
    const r = await getToken('auto', extra, noBus);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /no usable OS keyring: .*; keeping tokens in .*kubectl-oidc/);
    assert.equal(cacheFiles(w).length, 1);
    const k = await getToken('keyring', ['--oidc-extra-scope=address'], noBus);
    assert.equal(k.code, 1);
    assert.equal(k.stdout, '');
    assert.match(k.stderr, /kubectl-oidc: no usable OS keyring: /);
    assert.match(k.stderr, /--token-cache-storage=file/);
  });

  await t.test('a Secret Service that never answers: bounded time, then fallback (auto) or a clear error (keyring)', async () => {
    await w.stopAgent();
    const hung = await startHangingSecretService(join(w.dir, 'hung'));
    try {
      const env = { DBUS_SESSION_BUS_ADDRESS: hung.env.DBUS_SESSION_BUS_ADDRESS! };
      let started = Date.now();
      const r = await getToken('auto', ['--oidc-extra-scope=phone'], env);
      const autoMs = Date.now() - started;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /no usable OS keyring: the Secret Service did not answer/);
      assert.ok(autoMs < 10_000, `auto took ${autoMs} ms`);
      started = Date.now();
      const k = await getToken('keyring', ['--oidc-extra-scope=address'], env);
      assert.equal(k.code, 1);
      assert.match(k.stderr, /kubectl-oidc: no usable OS keyring/);
      assert.ok(Date.now() - started < 10_000);
    } finally {
      await w.stopAgent();
      await hung.stop();
    }
  });
});
