/**
 * The npm entry (cmd/npm-entry.cjs, built to dist/kubectl-oidc.cjs) runs the CLI with Node's own compile
 * cache, in a private directory of the user's cache dir: used when that directory and its parent are
 * real directories of the user that nobody else can write, never through a symbolic link, never on a
 * damaged entry. Runs the built entry against a stand-in agent, under each supported Node found here
 * (the npm packages node22 and node24), with Node's own debug output saying what the cache did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '../../lib/protocol/frames.js';
import { execInfo } from '../support/exec-info.js';

const ENTRY = join(process.cwd(), 'dist/kubectl-oidc.cjs');
const INFO = execInfo(false).KUBERNETES_EXEC_INFO;
const ARGS = ['get-token', '--oidc-issuer-url=https://issuer.invalid', '--oidc-client-id=x'];
const NODES = ['node22', 'node24'].map((n) => join(process.cwd(), 'node_modules', n, 'bin', 'node')).filter((n) => existsSync(n));
const SKIP = NODES.length === 0 ? 'no Node >= 22 in node_modules (npm install)' : false;

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
function home(): { env: Record<string, string>; kodir: string; ccDir: string } {
  const h = join(root, `home${homes++}`);
  mkdirSync(h, { mode: 0o700 });
  const kodir = join(h, '.cache', 'kubectl-oidc');
  return { env: { HOME: h, XDG_CACHE_HOME: join(h, '.cache') }, kodir, ccDir: join(kodir, 'compile-cache') };
}

type Result = { code: number | null; stdout: string; stderr: string };

function kubectlOidc(node: string, env: Record<string, string>, args = ARGS): Promise<Result> {
  const full: Record<string, string | undefined> = { ...process.env, KUBECTL_OIDC_RUNTIME_DIR: run, KUBERNETES_EXEC_INFO: INFO, KUBECTL_OIDC_DEBUG: '1', NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };
  for (const k of ['NODE_OPTIONS', 'KUBECTL_OIDC_CODE_CACHE', 'NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE']) delete full[k];
  Object.assign(full, env);
  return new Promise((resolve) => {
    const child = spawn(node, [ENTRY, ...args], { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertToken(r: Result) {
  assert.equal(r.code, 0, r.stderr);
  const cred = JSON.parse(r.stdout) as { status: { token: string } };
  assert.equal(cred.status.token, 'a.b.c');
}

/** Cache entries Node wrote (one sub-directory per Node version, a file per module). */
function entries(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && !d.name.includes('.')).map((d) => join(d.parentPath, d.name));
}
const hit = (r: Result) => /\[compile cache\] .*cli\.cjs.*(was accepted|success)/.test(r.stderr) && !/cli\.cjs.*(no such file|mismatch)/.test(r.stderr);

for (const node of NODES) {
  const v = node.split('/').at(-3);

  test(`${v}: the first get-token writes the cache (a 0700 dir), the next reads it: the same answer`, { skip: SKIP }, async () => {
    const { env, ccDir } = home();
    const first = await kubectlOidc(node, env);
    assertToken(first);
    assert.ok(entries(ccDir).length >= 1, `cache written: ${first.stderr}`);
    assert.equal(statSync(ccDir).mode & 0o777, 0o700);
    const second = await kubectlOidc(node, env);
    assertToken(second);
    assert.ok(hit(second), `read from the cache: ${second.stderr}`);
    assert.equal(second.stdout, first.stdout);
  });

  test(`${v}: a cache dir (or its parent) that is a symbolic link, or others can write, is not used`, { skip: SKIP }, async () => {
    // The control for each: the same home with the dir made private again uses the cache.
    const linked = home();
    const elsewhere = mkdtempSync(join(root, 'elsewhere-'));
    mkdirSync(linked.kodir, { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, linked.ccDir);
    let r = await kubectlOidc(node, linked.env);
    assertToken(r);
    assert.match(r.stderr, /compile cache: not used: .*symbolic link/);
    assert.deepEqual(entries(elsewhere), [], 'nothing written through the link');

    const parent = home();
    const elsewhere2 = mkdtempSync(join(root, 'elsewhere-'));
    chmodSync(elsewhere2, 0o700);
    mkdirSync(join(parent.env.HOME!, '.cache'), { mode: 0o700 });
    symlinkSync(elsewhere2, parent.kodir);
    r = await kubectlOidc(node, parent.env);
    assertToken(r);
    assert.match(r.stderr, /compile cache: not used/);
    assert.deepEqual(entries(elsewhere2), [], 'nothing written under a linked parent');

    const shared = home();
    assertToken(await kubectlOidc(node, shared.env));
    chmodSync(shared.ccDir, 0o777);
    r = await kubectlOidc(node, shared.env);
    assertToken(r);
    assert.match(r.stderr, /compile cache: not used/);
    assert.ok(!hit(r), 'not read');
    chmodSync(shared.ccDir, 0o700);
    r = await kubectlOidc(node, shared.env);
    assert.ok(hit(r), `the control: a private dir is used: ${r.stderr}`);
  });

  test(`${v}: a damaged cache entry is a miss, never a crash or another answer`, { skip: SKIP }, async () => {
    const { env, ccDir } = home();
    assertToken(await kubectlOidc(node, env));
    for (const file of entries(ccDir)) {
      const bad = readFileSync(file);
      for (let i = 64; i < bad.length; i += 97) bad[i]! ^= 0x5a;
      writeFileSync(file, bad);
    }
    const r = await kubectlOidc(node, env);
    assertToken(r);
    assert.ok(!hit(r), `not used: ${r.stderr}`);
  });

  test(`${v}: KUBECTL_OIDC_CODE_CACHE=0 writes nothing`, { skip: SKIP }, async () => {
    const { env, kodir } = home();
    const off = await kubectlOidc(node, { ...env, KUBECTL_OIDC_CODE_CACHE: '0' });
    assertToken(off);
    assert.ok(!existsSync(kodir), 'no cache dir at all');
  });
}
