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

test('a writer killed with SIGKILL mid-write never leaves a half file: the next reader gets whole tokens', async () => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'ko-kill-'));
  const storeModule = new URL('../../lib/store/file.js', import.meta.url).href;
  const writer = `
    const { createFileStore } = await import(${JSON.stringify(storeModule)});
    const s = createFileStore(${JSON.stringify(dir)});
    const big = 'x'.repeat(200_000);
    for (let i = 0; ; i++) {
      await s.save(${JSON.stringify(key)}, { idToken: 'a.' + big + '.' + i, refreshToken: 'r' + i, issuedAt: i, expiresAt: i + 1 });
      if (i === 0) process.stdout.write('saved\\n');
    }`;
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 20 + round * 15));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const got = await createFileStore(dir).load(key);
    assert.ok(got, 'whole tokens after the kill');
    assert.equal(got.idToken.length > 200_000, true);
    assert.equal(got.refreshToken, `r${got.issuedAt}`, 'id token and refresh token from the same write');
  }
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
