/**
 * Issue 16 item 4 (two installed versions never fight) and issue 17 item 8 (a squatted
 * /tmp/kubectl-oidc-<uid>), with the real plugin, agent, issuer and browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createWorld, requireTools, agentPid, alive, execInfo, ENTRY, ROOT, start, type World } from './world.js';
import type { KubectlResult } from '../rig/apiserver.js';
import { PASSWORD_FOR_TESTS } from '../rig/issuer.js';
import { VERSION } from '../../lib/version.js';

const skip = requireTools();

function assertToken(r: KubectlResult): void {
  assert.equal(r.code, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).status.token, /^eyJ/);
}

/** The version after `v` (a newer patch release). */
function bumped(v: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  assert.ok(m, `VERSION ${v} is a semver`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

/**
 * A second installed copy of the plugin, identical but for its version string: the built bundles
 * with VERSION's value rewritten, beside a node_modules of their own (as an npm install has).
 */
function copyWithVersion(dir: string, version: string): string {
  const dist = join(dir, 'dist');
  mkdirSync(dist, { recursive: true });
  let rewritten = 0;
  for (const f of readdirSync(dirname(ENTRY))) {
    const text = readFileSync(join(dirname(ENTRY), f), 'utf8');
    const out = text.replace(new RegExp(`(VERSION = )"${VERSION.replace(/\./g, '\\.')}"`, 'g'), (_, p: string) => (rewritten++, `${p}"${version}"`));
    writeFileSync(join(dist, f), out, { mode: 0o755 });
  }
  assert.ok(rewritten > 0, 'the bundles define VERSION');
  // Another build has another build id: the entry keys its V8 code cache by it, and V8 checks only the
  // source's length, so with the old id the copy would run the old version's cached code.
  const entry = join(dist, 'kubectl-oidc.cjs');
  const text = readFileSync(entry, 'utf8');
  const id = /const BUILD = '([0-9a-f]+)'/.exec(text);
  if (id) writeFileSync(entry, text.replace(id[0], `const BUILD = '${createHash('sha256').update(version).update(id[1]!).digest('hex').slice(0, id[1]!.length)}'`));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  return join(dist, 'kubectl-oidc.cjs');
}

test('two installed versions alternate through one runtime dir: the agent is replaced at most once, no session is lost', { skip, timeout: 240_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const newer = copyWithVersion(join(w.dir, 'newer'), bumped(VERSION));
  const older = ENTRY;
  const getToken = (entry: string) => runEntry(w, entry);

  const pids = new Set<number>();
  const first = await getToken(older);
  assertToken(first);
  assert.equal(await w.launches(), 1, 'the first call logs in');
  const codes = w.issuer.stats.tokenRequests.authorization_code;
  pids.add(agentPid(w)!);
  for (let i = 1; i < 20; i++) {
    const r = await getToken(i % 2 === 1 ? newer : older);
    assertToken(r);
    assert.doesNotMatch(r.stderr, /continuing without it|not using the agent/, `call ${i}`);
    const pid = agentPid(w);
    assert.ok(pid !== undefined && alive(pid), `call ${i}: an agent runs`);
    pids.add(pid);
  }
  assert.ok(pids.size <= 2, `the agent was replaced ${pids.size - 1} times (pids ${[...pids].join(', ')})`);
  assert.equal(await w.launches(), 1, 'no browser after the first login');
  assert.equal(w.issuer.stats.tokenRequests.authorization_code, codes, 'no new login');
  const state = JSON.parse(readFileSync(join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.json'), 'utf8'));
  assert.equal(state.version, bumped(VERSION), 'the newer copy runs the agent');
});

function runEntry(w: World, entry: string): Promise<KubectlResult> {
  return runAs(process.execPath, [entry, 'get-token', ...w.tokenArgs], { ...process.env, ...w.env, ...execInfo(false) });
}

test('a CA bundle inlined in the flags, over 64 KiB and over the frame cap, works without stopping the agent', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  assertToken(await runEntry(w, ENTRY));
  const pid = agentPid(w)!;
  // The test CA among many others, as an inlined corporate bundle is: one argument over 64 KiB (Linux
  // takes at most 128 KiB per argument), then three, together over the agent's frame cap.
  const system = existsSync('/etc/ssl/certs/ca-certificates.crt') ? readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8') : '';
  const certs: string[] = system.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
  if (certs.length < 10) for (let i = 0; i < 200; i++) certs.push(w.ca.caPem);
  let next = 0;
  const chunk = (b64Bytes: number) => {
    let pem = w.ca.caPem;
    while (Buffer.byteLength(pem) * 4 / 3 < b64Bytes) pem += certs[next++ % certs.length];
    return Buffer.from(pem).toString('base64');
  };
  const noCaFile = w.tokenArgs.filter((a) => !a.startsWith('--certificate-authority='));
  for (const pieces of [[100 * 1024], [100 * 1024, 100 * 1024, 100 * 1024]]) {
    const data = pieces.map(chunk);
    assert.ok(data[0]!.length > 64 * 1024 && data.join('').length >= pieces.reduce((a, b) => a + b));
    const r = await runAs(process.execPath, [ENTRY, 'get-token', ...noCaFile, ...data.map((d) => `--certificate-authority-data=${d}`)], { ...process.env, ...w.env, ...execInfo(false) });
    assertToken(r);
    assert.doesNotMatch(r.stderr, /continuing without it|failed/, `${pieces.length}: ${r.stderr}`);
    assert.equal(agentPid(w), pid, `${pieces.length} arguments: the same agent`);
    assert.ok(alive(pid), `${pieces.length} arguments: the agent still runs`);
  }
});

/** Run a command, optionally as another uid/gid (from /, which every uid can enter); collects its output. */
function runAs(file: string, args: string[], env: Record<string, string | undefined>, ids: { uid?: number; gid?: number } = {}, timeoutMs = 60_000): Promise<KubectlResult> {
  return start(file, args, env, timeoutMs, undefined, { ...ids, cwd: '/' }).result;
}

const canSwitchUser = process.getuid?.() === 0;

test('another user squats /tmp/kubectl-oidc-<uid>: the victim\'s agent still runs, in a private dir of its own', { skip: skip ?? (canSwitchUser ? false : 'needs root to run as two users'), timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // The victim: a uid of no other process here (no passwd entry needed); the squatter: nobody (65534).
  const uid = 40_000 + (process.pid % 20_000);
  const squat = `/tmp/kubectl-oidc-${uid}`;
  rmSync(squat, { recursive: true, force: true });
  mkdirSync(squat, { mode: 0o755 });
  chownSync(squat, 65534, 65534);
  const home = mkdtempSync(join(tmpdir(), 'ko-victim-'));
  chownSync(home, uid, uid);
  const env = {
    PATH: process.env.PATH, HOME: home, DBUS_SESSION_BUS_ADDRESS: 'disabled:', KUBECTL_OIDC_AGENT_IDLE_TIMEOUT: '2m',
    KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS, ...execInfo(false),
  };
  const asVictim = (args: string[]) => runAs(process.execPath, [ENTRY, ...args], env, { uid, gid: uid });
  t.after(async () => {
    await asVictim(['agent', 'stop']);
    rmSync(squat, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });
  // The victim reaches the issuer with no file of the test's: the CA inline, the password grant.
  const args = ['get-token', `--oidc-issuer-url=${w.issuer.url}`, `--oidc-client-id=kubectl-oidc`, `--certificate-authority-data=${Buffer.from(w.ca.caPem).toString('base64')}`, '--grant-type=password', '--username=alice', '--token-cache-storage=file'];
  const fallback = join(home, '.cache', 'kubectl-oidc', 'run');
  const agentOf = () => JSON.parse(readFileSync(join(fallback, 'agent.json'), 'utf8')) as { pid: number };

  const r1 = await asVictim(args);
  assertToken(r1);
  assert.doesNotMatch(r1.stderr, /not using the agent|continuing without it/, r1.stderr);
  const pid = agentOf().pid;
  assert.ok(alive(pid), 'the victim\'s agent runs');
  assert.equal(lstatSync(join(fallback, 'agent.sock')).uid, uid);
  assert.deepEqual(readdirSync(squat), [], 'nothing was put in the squatted dir');
  const grants = w.issuer.stats.tokenRequests.password;
  const r2 = await asVictim(args);
  assertToken(r2);
  assert.equal(r2.stderr, '');
  assert.equal(agentOf().pid, pid, 'the same agent');
  assert.equal(w.issuer.stats.tokenRequests.password, grants, 'served from the agent\'s session');

  // A symlink planted there instead: the same private dir, and `agent status` finds the agent.
  rmSync(squat, { recursive: true, force: true });
  symlinkSync('/tmp', squat);
  const r3 = await asVictim(args);
  assertToken(r3);
  assert.equal(r3.stderr, '');
  assert.equal(agentOf().pid, pid);
  const st = await asVictim(['agent', 'status']);
  assert.match(st.stdout, new RegExp(`agent: running, pid ${pid}, .*socket ${fallback}/agent\\.sock`));
});
