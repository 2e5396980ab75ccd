/**
 * The npm entry's V8 code cache (cmd/npm-entry.cjs, built to dist/kubectl-oidc.cjs): written once after
 * a get-token that succeeded, used from then on; a damaged, truncated, shared or symlinked cache is a cache miss
 * (never a crash, never a changed answer), each set of V8 flags has its own, and a run that failed or
 * was not get-token writes nothing. Runs the built entry against a stand-in agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '../../lib/protocol.js';
import { execInfo } from '../support/exec-info.js';

const ENTRY = join(process.cwd(), 'dist/kubectl-oidc.cjs');
const INFO = execInfo(false).KUBERNETES_EXEC_INFO;
const ARGS = ['get-token', '--oidc-issuer-url=https://issuer.invalid', '--oidc-client-id=x'];

const root = mkdtempSync(join(tmpdir(), 'ko-cc-'));
const run = join(root, 'run');
mkdirSync(run, { mode: 0o700 });
const server = createServer((c) => c.once('data', () => c.end(encodeFrame({ t: 'token', token: 'a.b.c', expiresAt: 2e9 }))));
await new Promise<void>((r) => server.listen(join(run, 'agent.sock'), r));
test.after(() => {
  server.close();
  rmSync(root, { recursive: true, force: true });
});

let homes = 0;
/** A fresh HOME (and so a fresh cache dir) for one case. */
function home(): { env: Record<string, string>; codeDir: string } {
  const h = join(root, `home${homes++}`);
  mkdirSync(h, { mode: 0o700 });
  return { env: { HOME: h, XDG_CACHE_HOME: join(h, '.cache') }, codeDir: join(h, '.cache', 'kubectl-oidc', 'code') };
}

function kubectlOidc(env: Record<string, string>, args = ARGS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const full: Record<string, string | undefined> = { ...process.env, KUBECTL_OIDC_RUNTIME_DIR: run, KUBERNETES_EXEC_INFO: INFO, KUBECTL_OIDC_DEBUG: '1', ...env };
  delete full.NODE_OPTIONS;
  delete full.KUBECTL_OIDC_CODE_CACHE;
  Object.assign(full, env);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ENTRY, ...args], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertToken(r: { code: number | null; stdout: string; stderr: string }) {
  assert.equal(r.code, 0, r.stderr);
  const cred = JSON.parse(r.stdout) as { status: { token: string } };
  assert.equal(cred.status.token, 'a.b.c');
}

const caches = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.v8')) : []);

test('written once after a get-token that succeeded (0600 in a 0700 dir), then used: the same answer', async () => {
  const { env, codeDir } = home();
  const first = await kubectlOidc(env);
  assertToken(first);
  assert.match(first.stderr, /code cache: written .*\.v8\n$/);
  const [file] = caches(codeDir);
  assert.ok(file, 'one cache file');
  assert.equal(statSync(codeDir).mode & 0o777, 0o700);
  assert.equal(statSync(join(codeDir, file)).mode & 0o777, 0o600);
  const mtime = statSync(join(codeDir, file)).mtimeMs;
  const second = await kubectlOidc(env);
  assertToken(second);
  assert.equal(second.stderr, '', 'used quietly');
  assert.equal(second.stdout, first.stdout);
  assert.equal(statSync(join(codeDir, file)).mtimeMs, mtime, 'not rewritten');
});

test('a damaged or truncated cache is a miss: compiled from source, the same answer, and written again', async () => {
  const { env, codeDir } = home();
  assertToken(await kubectlOidc(env));
  const file = join(codeDir, caches(codeDir)[0]!);
  const good = readFileSync(file);
  for (const damage of ['flip', 'truncate', 'zeros'] as const) {
    if (damage === 'flip') {
      const bad = Buffer.from(good);
      bad[Math.floor(bad.length / 2)]! ^= 0x40;
      writeFileSync(file, bad);
    } else if (damage === 'truncate') {
      truncateSync(file, Math.floor(good.length / 2));
    } else {
      writeFileSync(file, Buffer.concat([good.subarray(0, 8), Buffer.alloc(good.length - 8)]));
    }
    const r = await kubectlOidc(env);
    assertToken(r);
    assert.match(r.stderr, /is damaged: compiling from source/, damage);
    assert.match(r.stderr, /code cache: written/, `${damage}: written again`);
    assert.equal(readFileSync(file).toString('latin1', 0, 4), 'KOC1', `${damage}: a whole cache again`);
    const after = await kubectlOidc(env);
    assertToken(after);
    assert.equal(after.stderr, '', `${damage}: used after`);
  }
});

test('a cache that others can write is not read (and is replaced by a private one)', async () => {
  const { env, codeDir } = home();
  assertToken(await kubectlOidc(env));
  const file = join(codeDir, caches(codeDir)[0]!);
  chmodSync(file, 0o666);
  const r = await kubectlOidc(env);
  assertToken(r);
  assert.match(r.stderr, /not used: not a private file of yours/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('a cache reached through a symbolic link is not read', async () => {
  const { env, codeDir } = home();
  assertToken(await kubectlOidc(env));
  const file = join(codeDir, caches(codeDir)[0]!);
  const elsewhere = join(root, `elsewhere-${homes}.v8`);
  renameSync(file, elsewhere);
  symlinkSync(elsewhere, file);
  const r = await kubectlOidc(env);
  assertToken(r);
  assert.match(r.stderr, /not read: ELOOP/);
  assert.ok(!lstatSync(file).isSymbolicLink(), 'replaced by a file of its own');
});

test('V8 flags in NODE_OPTIONS get a cache of their own; the plain one stays', async () => {
  const { env, codeDir } = home();
  assertToken(await kubectlOidc(env));
  const flagged = { ...env, NODE_OPTIONS: '--max-old-space-size=300' };
  const r = await kubectlOidc(flagged);
  assertToken(r);
  assert.match(r.stderr, /code cache: written/);
  assert.equal(caches(codeDir).length, 2);
  assert.equal((await kubectlOidc(flagged)).stderr, '');
  assert.equal((await kubectlOidc(env)).stderr, '');
});

test('nothing is written by a failed get-token, another command, or with KUBECTL_OIDC_CODE_CACHE=0', async () => {
  const { env, codeDir } = home();
  const bad = await kubectlOidc({ ...env, KUBERNETES_EXEC_INFO: '{"apiVersion":' });
  assert.equal(bad.code, 2);
  const version = await kubectlOidc(env, ['--version']);
  assert.equal(version.stdout.trim().startsWith('kubectl-oidc '), true);
  const off = await kubectlOidc({ ...env, KUBECTL_OIDC_CODE_CACHE: '0' });
  assertToken(off);
  assert.equal(off.stderr, '');
  assert.deepEqual(caches(codeDir), []);
});

test('eight get-token at once with no cache: all answer, one cache file, no temp file left', async () => {
  const { env, codeDir } = home();
  const all = await Promise.all(Array.from({ length: 8 }, () => kubectlOidc(env)));
  for (const r of all) assertToken(r);
  assert.equal(caches(codeDir).length, 1);
  assert.deepEqual(readdirSync(codeDir).filter((f) => f.endsWith('.tmp')), []);
  assert.equal((await kubectlOidc(env)).stderr, '');
});
