import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore } from '../../lib/store/file.js';
import { acquireLock } from '../../lib/store/lock.js';
import { isOidcError } from '../../lib/errors.js';

const tokens = { idToken: 'a.b.c', refreshToken: 'r', issuedAt: 1, expiresAt: 2 };
const key = 'f'.repeat(64);

test('round trip; file 0600 in a 0700 dir; no temp files left', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ko-')), 'cache');
  const s = createFileStore(dir);
  assert.equal(await s.load(key), undefined);
  await s.save(key, tokens);
  assert.deepEqual(await s.load(key), tokens);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(s.pathFor(key)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), [`${key}.json`]);
  await s.delete(key);
  assert.equal(await s.load(key), undefined);
  await s.delete(key); // deleting nothing is fine
});

test('corrupt, truncated, foreign or wrong-shape files are cache misses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-'));
  const s = createFileStore(dir);
  await s.save(key, tokens);
  const good = readFileSync(s.pathFor(key), 'utf8');
  for (const bad of ['', '{', good.slice(0, good.length / 2), 'null', '[]', JSON.stringify({ v: 1, key: 'other', tokens }), JSON.stringify({ v: 2, key, tokens }), JSON.stringify({ v: 1, key, tokens: { idToken: 5 } })]) {
    writeFileSync(s.pathFor(key), bad);
    assert.equal(await s.load(key), undefined, bad);
  }
  await s.save(key, tokens);
  assert.deepEqual(await s.load(key), tokens, 'a corrupt file is replaced by the next save');
});

test('an unwritable cache dir is a clear E_STORE error', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'ko-')), 'afile');
  writeFileSync(file, 'x');
  await assert.rejects(createFileStore(join(file, 'sub')).save(key, tokens), (e) => isOidcError(e, 'E_STORE'));
});

test('the lock is a separate file, exclusive, and times out clearly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-'));
  const release = await acquireLock(dir, key, { timeoutMs: 1000 });
  assert.ok(readdirSync(dir).includes(`${key}.lock`));
  await assert.rejects(acquireLock(dir, key, { timeoutMs: 200 }), (e) => isOidcError(e, 'E_STORE'));
  const waiting = acquireLock(dir, key, { timeoutMs: 2000 });
  await release();
  await (await waiting)();
});

test('temp files left by killed writers are swept once they are old', async () => {
  const { utimesSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'ko-sweep-'));
  const s = createFileStore(dir);
  const old = join(dir, `${key}.json.999.dead.tmp`);
  const recent = join(dir, `${key}.json.998.busy.tmp`);
  writeFileSync(old, '{"half');
  writeFileSync(recent, '{"half');
  utimesSync(old, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
  await s.save(key, tokens);
  const left = readdirSync(dir).sort();
  assert.deepEqual(left, [`${key}.json`, `${key}.json.998.busy.tmp`].sort(), 'the old one is gone; a writer that may still run is left alone');
});

// Issue 11: files and sockets. A cache dir or file that is a symbolic link is refused, never followed.
test('a cache dir that is a symbolic link is refused with a clear message, for load and save', async () => {
  const { symlinkSync, mkdirSync } = await import('node:fs');
  const base = mkdtempSync(join(tmpdir(), 'ko-link-'));
  const real = join(base, 'elsewhere');
  mkdirSync(real, { mode: 0o700 });
  const link = join(base, 'cache');
  symlinkSync(real, link);
  const s = createFileStore(link);
  for (const op of [() => s.load(key), () => s.save(key, tokens)]) {
    await assert.rejects(op(), (e) => {
      assert.ok(isOidcError(e, 'E_STORE'), String(e));
      assert.match((e as Error).message, /token cache dir .*cache is a symbolic link; refusing to keep tokens there/);
      assert.doesNotMatch((e as Error).message, /\n/);
      return true;
    });
  }
  assert.deepEqual(readdirSync(real), [], 'nothing written through the link');
});

test('a cache file replaced by a symbolic link is refused, and its target is never read', async () => {
  const { symlinkSync, unlinkSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'ko-flink-'));
  const s = createFileStore(dir);
  const elsewhere = createFileStore(mkdtempSync(join(tmpdir(), 'ko-flink-other-')));
  await elsewhere.save(key, tokens); // a well-formed token file the link points at
  symlinkSync(elsewhere.pathFor(key), s.pathFor(key));
  await assert.rejects(s.load(key), (e) => {
    assert.ok(isOidcError(e, 'E_STORE'), String(e));
    assert.match((e as Error).message, /token cache file .* is a symbolic link; refusing to read it/);
    return true;
  });
  // A save replaces the link itself (rename), never writes through it.
  await s.save(key, { ...tokens, refreshToken: 'mine' });
  assert.equal((await elsewhere.load(key))?.refreshToken, 'r', 'the link target is untouched');
  assert.equal((await s.load(key))?.refreshToken, 'mine');
  unlinkSync(s.pathFor(key));
});

test('a cache dir owned by another user is refused', { skip: process.getuid?.() !== 0 ? 'needs root to chown' : false }, async () => {
  const { chownSync, mkdirSync } = await import('node:fs');
  const dir = join(mkdtempSync(join(tmpdir(), 'ko-own-')), 'cache');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, 65534, 65534);
  await assert.rejects(createFileStore(dir).load(key), /owned by uid 65534, not by you/);
});

/** A full disk: a small tmpfs (as root), else RLIMIT_FSIZE through prlimit on a child process. */
test('a full disk: a clear E_STORE error, the old file intact, no half-written temp file', async (t) => {
  const { execFileSync, spawnSync } = await import('node:child_process');
  const { mkdirSync } = await import('node:fs');
  const mnt = mkdtempSync(join(tmpdir(), 'ko-full-'));
  let mounted = false;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
      mounted = true;
    } catch {}
  }
  if (!mounted) {
    // RLIMIT_FSIZE: writes past the limit fail with EFBIG (SIGXFSZ ignored by Node).
    const storeModule = new URL('../../lib/store/file.js', import.meta.url).href;
    const dir = join(mnt, 'cache');
    const script = `
      const { createFileStore } = await import(${JSON.stringify(storeModule)});
      const s = createFileStore(${JSON.stringify(dir)});
      await s.save('${key}', { idToken: 'a.b.c', refreshToken: 'old', issuedAt: 1, expiresAt: 2 });
      try { await s.save('${key}', { idToken: 'a.' + 'x'.repeat(200000) + '.c', refreshToken: 'new', issuedAt: 1, expiresAt: 2 }); console.log('SAVED'); }
      catch (e) { console.log(e.code + ' ' + e.message); }`;
    const r = spawnSync('prlimit', ['--fsize=65536', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.error) return t.skip('neither mount (as root) nor prlimit is available');
    assert.match(r.stdout, /^E_STORE cannot write the token cache in .*: .*(EFBIG|too large)/m, r.stdout + r.stderr);
    assert.deepEqual(readdirSync(dir), [`${key}.json`], 'no temp file left');
    assert.equal((await createFileStore(dir).load(key))?.refreshToken, 'old');
    return;
  }
  t.after(() => execFileSync('umount', [mnt]));
  const dir = join(mnt, 'cache');
  mkdirSync(dir, { mode: 0o700 });
  const s = createFileStore(dir);
  await s.save(key, tokens);
  await assert.rejects(s.save(key, { ...tokens, idToken: `a.${'x'.repeat(200_000)}.c` }), (e) => {
    assert.ok(isOidcError(e, 'E_STORE'));
    assert.match((e as Error).message, /^cannot write the token cache in .*: .*ENOSPC/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), [`${key}.json`], 'no half-written temp file');
  assert.deepEqual(await s.load(key), tokens, 'the previous tokens are intact');
});

test('a read-only cache dir: a clear E_STORE error, nothing written', async (t) => {
  const { chmodSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const base = mkdtempSync(join(tmpdir(), 'ko-ro-'));
  const dir = join(base, 'cache');
  const s = createFileStore(dir);
  await s.save(key, tokens);
  // root ignores mode bits: a read-only bind mount says "read-only" to root too.
  let ro = false;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('mount', ['--bind', dir, dir], { stdio: 'ignore' });
      execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'ignore' });
      ro = true;
      t.after(() => execFileSync('umount', [dir]));
    } catch {}
  } else {
    chmodSync(dir, 0o500);
    t.after(() => chmodSync(dir, 0o700));
    ro = true;
  }
  if (!ro) return t.skip('cannot make a read-only dir here');
  await assert.rejects(s.save(key, { ...tokens, refreshToken: 'new' }), (e) => {
    assert.ok(isOidcError(e, 'E_STORE'));
    assert.match((e as Error).message, /^cannot write the token cache in .*: .*(EROFS|EACCES)/);
    return true;
  });
  assert.deepEqual(readdirSync(dir), [`${key}.json`]);
  assert.deepEqual(await s.load(key), tokens);
});

// Issue 17 item 6: --token-cache-dir naming an existing directory (say $HOME) silently chmodded it to 0700.
test('an existing cache dir open to others is refused with one line and its mode is left alone; a missing one is created 0700', async () => {
  const { chmodSync, mkdirSync } = await import('node:fs');
  const base = mkdtempSync(join(tmpdir(), 'ko-open-'));
  for (const mode of [0o755, 0o750, 0o701, 0o777]) {
    const dir = join(base, `d${mode.toString(8)}`);
    mkdirSync(dir);
    chmodSync(dir, mode);
    const s = createFileStore(dir);
    for (const op of [() => s.load(key), () => s.save(key, tokens)]) {
      await assert.rejects(op(), (e) => {
        assert.ok(isOidcError(e, 'E_STORE'), String(e));
        assert.equal((e as Error).message, `the token cache dir ${dir} is open to other users (mode 0${mode.toString(8)}); refusing to keep tokens there, and leaving its mode alone`);
        assert.match((e as { hint?: string }).hint ?? '', /chmod 700/);
        return true;
      });
    }
    assert.equal(statSync(dir).mode & 0o777, mode, 'the mode is unchanged');
    assert.deepEqual(readdirSync(dir), [], 'nothing written');
  }
  const fresh = join(base, 'new', 'tokens');
  await createFileStore(fresh).save(key, tokens);
  assert.equal(statSync(fresh).mode & 0o777, 0o700);
  assert.equal(statSync(join(base, 'new')).mode & 0o777, 0o700);
});

test('the default cache dir (ours, ~/.cache/kubectl-oidc) found open to others is made private again', async () => {
  const { chmodSync, mkdirSync } = await import('node:fs');
  const { cacheDir } = await import('../../lib/store/dirs.js');
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'ko-xdg-'));
  try {
    const dir = cacheDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    await createFileStore(dir).save(key, tokens);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});
