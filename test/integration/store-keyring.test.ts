/**
 * The keyring store against a real Secret Service (gnome-keyring-daemon on a private session bus).
 * Store operations run in child processes (test/rig/keyring-cli), one per step, so each gets the
 * bus address we choose and "a new process resumes" is literally a new process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Op, Report, Script } from '../rig/keyring-cli.js';
import { missingBinaries, startBareBus, startHangingSecretService, startSecretService, type SecretServiceRig } from '../rig/secret-service.js';
import type { TokenSet } from '../../lib/store/types.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'rig', 'keyring-cli.js');
/** What "bounded" means here: well under kubectl's patience, and far from libdbus's 25 s default. */
const BOUND_MS = 5_000;

const missing = missingBinaries();
// In CI a missing binary is a broken CI image, not a reason to skip: the tests then run and fail.
const skip = missing.length > 0 && process.env.CI !== 'true' ? `missing ${missing.join(', ')} (Debian: dbus-daemon dbus-bin gnome-keyring)` : false;
if (skip) console.log(`# store-keyring: skipping: ${skip}`);

const base = mkdtempSync(join(tmpdir(), 'ko-kr-')); // short: the bus socket path must stay under ~100 bytes
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (name: string) => {
  const d = join(base, `${name}${n++}`);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
};
const newKey = () => randomBytes(32).toString('hex');
const tokensFor = (tag: string, idLength = 0): TokenSet => ({
  idToken: `eyJhbGciOiJSUzI1NiJ9.${tag}-id-${randomBytes(6).toString('hex')}${'x'.repeat(idLength)}.sig`,
  refreshToken: `${tag}-refresh-${randomBytes(12).toString('hex')}`,
  expiresAt: 2_000_000_000,
  issuedAt: 1_999_996_400,
});

interface Run extends Report {
  wallMs: number;
}

function run(env: Record<string, string>, script: Script): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, JSON.stringify(script)], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`keyring-cli failed: ${err.message}\n${stderr}`));
      const report = JSON.parse(stdout) as Report & { crash?: string };
      if (report.crash) return reject(new Error(`keyring-cli crashed: ${report.crash}`));
      resolve({ ...report, wallMs: Date.now() - t0 });
    });
  });
}

const ops = (...list: Op[]) => list;
const result = (r: Run, i: number) => {
  const x = r.results[i];
  assert.ok(x, `no result #${i} in ${JSON.stringify(r)}`);
  return x;
};

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile());
}

test('the Secret Service rig has what it needs', { skip }, () => {
  assert.deepEqual(missing, [], `install the Debian packages dbus-daemon, dbus-bin and gnome-keyring`);
});

describe('with an unlocked gnome-keyring', { skip }, () => {
  let rig: SecretServiceRig;
  let rigDir: string;
  before(async () => {
    rigDir = freshDir('ok');
    rig = await startSecretService(rigDir);
  });
  after(() => rig?.stop());

  test('save, load and delete round-trip; one item per session key, service kubectl-oidc', async () => {
    const cacheDir = freshDir('cache');
    const key = newKey();
    const t = tokensFor('rt');
    const r = await run(rig.env, {
      store: 'keyring',
      cacheDir,
      ops: ops({ op: 'load', key }, { op: 'save', key, tokens: t }, { op: 'load', key }, { op: 'list' }, { op: 'delete', key }, { op: 'load', key }, { op: 'list' }, { op: 'delete', key }),
    });
    assert.equal(r.kind, 'keyring');
    assert.ok(r.results.every((x) => !x.error), JSON.stringify(r));
    assert.equal(result(r, 0).value, null, 'a missing item is a cache miss');
    assert.deepEqual(result(r, 2).value, t);
    assert.deepEqual((result(r, 3).value as string[]).filter((a) => a === key), [key]);
    assert.equal(result(r, 5).value, null);
    assert.ok(!(result(r, 6).value as string[]).includes(key));
    assert.ok(!(result(r, 6).value as string[]).some((a) => a.startsWith('probe-')), 'the probe cleans up after itself');
  });

  test('auto stores the session in the keyring and nowhere on disk; a new process resumes from it', async () => {
    const cacheDir = freshDir('cache');
    const key = newKey();
    const t = tokensFor('login');
    const first = await run(rig.env, { store: 'open:auto', cacheDir, ops: ops({ op: 'save', key, tokens: t }) });
    assert.equal(first.kind, 'keyring');
    assert.match(first.notice ?? '', /keeping tokens in the OS keyring/, 'auto says which store it chose');
    assert.equal(result(first, 0).error, undefined);

    assert.deepEqual(filesUnder(cacheDir), [], 'no token file in the cache dir');
    for (const f of [...filesUnder(cacheDir), ...filesUnder(rigDir)]) {
      const bytes = readFileSync(f);
      assert.ok(!bytes.includes(t.refreshToken!) && !bytes.includes(t.idToken), `${f} holds a token in the clear`);
    }

    const second = await run(rig.env, { store: 'open:auto', cacheDir, ops: ops({ op: 'load', key }) });
    assert.deepEqual(result(second, 0).value, t, 'a new process resumes from the keyring');
    const third = await run(rig.env, { store: 'open:keyring', cacheDir, ops: ops({ op: 'load', key }, { op: 'delete', key }) });
    assert.deepEqual(result(third, 0).value, t);
  });

  test('a corrupt item is a cache miss, and the next save replaces it', async () => {
    const key = newKey();
    const t = tokensFor('corrupt');
    const r = await run(rig.env, {
      store: 'keyring',
      cacheDir: freshDir('cache'),
      ops: ops(
        { op: 'setRaw', key, value: '{"idToken":' },
        { op: 'load', key },
        { op: 'setRaw', key, value: '{"idToken":5,"expiresAt":1,"issuedAt":1}' },
        { op: 'load', key },
        { op: 'save', key, tokens: t },
        { op: 'load', key },
        { op: 'delete', key },
      ),
    });
    assert.ok(r.results.every((x) => !x.error), JSON.stringify(r));
    assert.equal(result(r, 1).value, null);
    assert.equal(result(r, 3).value, null);
    assert.deepEqual(result(r, 5).value, t);
  });

  test('switching file -> keyring moves the session: no re-login, nothing left in the file', async () => {
    const cacheDir = freshDir('cache');
    const key = newKey();
    const t = tokensFor('migrate');
    await run(rig.env, { store: 'file', cacheDir, ops: ops({ op: 'save', key, tokens: t }) });
    assert.ok(existsSync(join(cacheDir, `${key}.json`)));

    const moved = await run(rig.env, { store: 'open:keyring', cacheDir, ops: ops({ op: 'load', key }) });
    assert.deepEqual(result(moved, 0).value, t, 'the file session is found');
    assert.ok(!existsSync(join(cacheDir, `${key}.json`)), 'the file is gone');

    const inKeyring = await run(rig.env, { store: 'keyring', cacheDir, ops: ops({ op: 'load', key }, { op: 'delete', key }) });
    assert.deepEqual(result(inKeyring, 0).value, t, 'the session now lives in the keyring');
  });

  test('logout (delete) removes the keyring item and the file', async () => {
    const cacheDir = freshDir('cache');
    const key = newKey();
    await run(rig.env, { store: 'file', cacheDir, ops: ops({ op: 'save', key, tokens: tokensFor('old') }) });
    await run(rig.env, { store: 'keyring', cacheDir, ops: ops({ op: 'save', key, tokens: tokensFor('new') }) });
    const out = await run(rig.env, { store: 'open:auto', cacheDir, ops: ops({ op: 'delete', key }, { op: 'load', key }) });
    assert.equal(result(out, 0).error, undefined);
    assert.equal(result(out, 1).value, null);
    assert.ok(!existsSync(join(cacheDir, `${key}.json`)));
    const check = await run(rig.env, { store: 'keyring', cacheDir, ops: ops({ op: 'load', key }, { op: 'list' }) });
    assert.equal(result(check, 0).value, null);
    assert.ok(!(result(check, 1).value as string[]).includes(key));
  });

  test('a session too large for a keyring item: auto keeps it in the file, keyring refuses clearly', async () => {
    const cacheDir = freshDir('cache');
    const key = newKey();
    const big = tokensFor('big', 6_000);
    const auto = await run(rig.env, { store: 'open:auto', cacheDir, ops: ops({ op: 'save', key, tokens: big }, { op: 'load', key }) });
    assert.equal(result(auto, 0).error, undefined);
    assert.deepEqual(result(auto, 1).value, big);
    assert.ok(existsSync(join(cacheDir, `${key}.json`)));
    const strict = await run(rig.env, { store: 'open:keyring', cacheDir, ops: ops({ op: 'save', key, tokens: big }, { op: 'delete', key }) });
    assert.equal(result(strict, 0).error?.code, 'E_KEYRING');
    assert.match(result(strict, 0).error!.message, /too large/);
  });
});

describe('without a usable Secret Service', { skip }, () => {
  test('no session bus: auto uses the file store with a one-line notice; keyring fails fast with E_KEYRING', async () => {
    const dir = freshDir('nobus');
    const cacheDir = join(dir, 'cache');
    const runtime = join(dir, 'run'); // empty: libdbus would otherwise try $XDG_RUNTIME_DIR/bus
    mkdirSync(runtime, { mode: 0o700 });
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_RUNTIME_DIR: runtime };
    const key = newKey();
    const t = tokensFor('nobus');
    const [auto, strict] = await Promise.all([
      run(env, { store: 'open:auto', cacheDir, ops: ops({ op: 'save', key, tokens: t }, { op: 'load', key }) }),
      run(env, { store: 'open:keyring', cacheDir, ops: [] }),
    ]);
    assert.equal(auto.kind, 'file');
    assert.match(
      auto.notice ?? '',
      /^kubectl-oidc: no usable OS keyring: no D-Bus session bus \(DBUS_SESSION_BUS_ADDRESS is not set\); keeping tokens in \S+ \(files readable only by you\)$/,
    );
    assert.deepEqual(result(auto, 1).value, t);
    assert.ok(existsSync(join(cacheDir, `${key}.json`)));
    assert.equal(strict.openError?.code, 'E_KEYRING');
    assert.match(strict.openError!.message, /no D-Bus session bus/);
    assert.match(strict.openError!.hint ?? '', /--token-cache-storage=file/);
    assert.ok(strict.wallMs < BOUND_MS, `took ${strict.wallMs} ms`);
  });

  test('a session bus with no Secret Service on it: auto falls back, keyring fails clearly', async () => {
    const rig = await startBareBus(freshDir('bare'));
    try {
      const cacheDir = freshDir('cache');
      const [auto, strict] = await Promise.all([run(rig.env, { store: 'open:auto', cacheDir, ops: [] }), run(rig.env, { store: 'open:keyring', cacheDir, ops: [] })]);
      assert.equal(auto.kind, 'file');
      assert.match(auto.notice ?? '', /no Secret Service on the D-Bus session bus/);
      assert.equal(strict.openError?.code, 'E_KEYRING');
      assert.ok(strict.wallMs < BOUND_MS, `took ${strict.wallMs} ms`);
    } finally {
      await rig.stop();
    }
  });

  test('a locked collection: bounded time, auto falls back, keyring and the bare store fail clearly', async () => {
    const rig = await startSecretService(freshDir('locked'));
    try {
      const cacheDir = freshDir('cache');
      const key = newKey();
      await run(rig.env, { store: 'keyring', cacheDir, ops: ops({ op: 'save', key, tokens: tokensFor('locked') }) });
      await rig.lock();
      const [auto, strict, bare] = await Promise.all([
        run(rig.env, { store: 'open:auto', cacheDir, ops: [] }),
        run(rig.env, { store: 'open:keyring', cacheDir, ops: [] }),
        run(rig.env, { store: 'keyring', cacheDir, ops: ops({ op: 'load', key }) }),
      ]);
      assert.equal(auto.kind, 'file');
      assert.match(auto.notice ?? '', /no usable OS keyring: the keyring is locked/);
      assert.equal(strict.openError?.code, 'E_KEYRING');
      assert.match(strict.openError!.message, /locked/);
      // An existing item in a locked collection is an error, never a silent cache miss.
      assert.equal(result(bare, 0).error?.code, 'E_KEYRING');
      assert.match(result(bare, 0).error!.message, /cannot read from the OS keyring: the keyring is locked/);
      for (const r of [auto, strict, bare]) assert.ok(r.wallMs < BOUND_MS, `took ${r.wallMs} ms`);
    } finally {
      await rig.stop();
    }
  });

  test('a Secret Service that never answers: bounded time, auto falls back, later calls fail fast', async () => {
    const rig = await startHangingSecretService(freshDir('hang'));
    try {
      const cacheDir = freshDir('cache');
      const key = newKey();
      const t = tokensFor('hang');
      const [auto, strict, bare] = await Promise.all([
        run(rig.env, { store: 'open:auto', cacheDir, ops: ops({ op: 'save', key, tokens: t }, { op: 'load', key }) }),
        run(rig.env, { store: 'open:keyring', cacheDir, ops: [] }),
        run(rig.env, {
          store: 'keyring',
          cacheDir,
          ops: ops({ op: 'save', key, tokens: t }, { op: 'load', key }, { op: 'delete', key }, { op: 'probe' }, { op: 'fsread' }),
        }),
      ]);
      assert.equal(auto.kind, 'file');
      assert.match(auto.notice ?? '', /no usable OS keyring: the Secret Service did not answer within \d+s/);
      assert.deepEqual(result(auto, 1).value, t, 'the file store works meanwhile');
      assert.equal(strict.openError?.code, 'E_KEYRING');
      assert.match(strict.openError!.message, /did not answer/);

      assert.equal(result(bare, 0).error?.code, 'E_KEYRING');
      assert.match(result(bare, 0).error!.message, /did not answer/);
      assert.match(result(bare, 0).error!.hint ?? '', /not answering/);
      // After one hang, nothing queues behind it: each later call fails at once.
      for (const i of [1, 2]) {
        assert.equal(result(bare, i).error?.code, 'E_KEYRING');
        assert.ok(result(bare, i).ms < 250, `call #${i} took ${result(bare, i).ms} ms`);
      }
      assert.equal((result(bare, 3).value as { ok: boolean }).ok, false);
      assert.ok(result(bare, 3).ms < 250, `the probe took ${result(bare, 3).ms} ms`);
      assert.ok(result(bare, 4).ms < 1_000, 'file I/O is not starved');
      for (const r of [auto, strict, bare]) assert.ok(r.wallMs < BOUND_MS, `took ${r.wallMs} ms`);
    } finally {
      await rig.stop();
    }
  });
});
