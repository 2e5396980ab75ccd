/**
 * Issue 3: the agent's life cycle and robustness, with the real plugin, issuer and browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createWorld, requireTools, cacheFiles, agentLog, run, ENTRY, PLUGIN_ARGV, execInfo, sockPath, runningAgentPid as agentPid, alive, waitFor, expireStoredTokens, type World } from './world.js';
import type { KubectlResult } from '../rig/apiserver.js';
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js';
import { VERSION } from '../../lib/version.js';

const skip = requireTools();

const runtime = (w: World) => w.env.KUBECTL_OIDC_RUNTIME_DIR!;
function assertToken(r: KubectlResult) {
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.kind, 'ExecCredential');
  assert.match(doc.status.token, /^eyJ/);
}

/** Raw protocol client: send bytes, collect what comes back until close or timeout. */
function raw(path: string, payload: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('connect', () => s.write(payload));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    setTimeout(() => {
      s.destroy();
      resolve(out);
    }, ms);
  });
}

test('agent life cycle', { skip, timeout: 240_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const getToken = (env: Record<string, string> = {}) => w.plugin(['get-token', ...w.tokenArgs], { env });

  await t.test('first get-token starts the agent; runtime dir 0700, socket 0600, state file with pid and version', async () => {
    assertToken(await getToken());
    const { statSync } = await import('node:fs');
    assert.equal(statSync(runtime(w)).mode & 0o777, 0o700);
    assert.equal(statSync(sockPath(w)).mode & 0o777, 0o600);
    const state = JSON.parse(readFileSync(join(runtime(w), 'agent.json'), 'utf8'));
    assert.equal(typeof state.pid, 'number');
    assert.equal(state.version, JSON.parse(readFileSync(join(ENTRY, '../../package.json'), 'utf8')).version);
  });

  await t.test('garbage, oversized and half-sent frames do not crash or block the agent', async () => {
    const before = agentPid(w);
    assert.match(await raw(sockPath(w), 'hello there\n'), /"t":"error".*E_PROTOCOL/);
    assert.match(await raw(sockPath(w), `${JSON.stringify({ op: 'token', v: PROTOCOL_VERSION, version: VERSION, provider: { issuerUrl: 5 } })}\n`), /E_PROTOCOL/);
    assert.match(await raw(sockPath(w), `${JSON.stringify({ op: 'token', v: 1, version: 'x', options: { issuerUrl: 5 } })}\n`), /E_VERSION_MISMATCH/);
    const big = raw(sockPath(w), 'x'.repeat(300 * 1024));
    const hung = raw(sockPath(w), '{"op":"tok', 1500); // never finished
    assertToken(await getToken()); // served while the others hang
    assert.match(await big, /E_PROTOCOL/);
    await hung;
    assert.equal(agentPid(w), before);
    assert.ok(alive(before));
  });

  await t.test('agent status lists the session without tokens', async () => {
    const r = await w.plugin(['agent', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /agent: running, pid \d+/);
    // Its sessions in the table of `kubectl oidc status`, with its one time format.
    assert.match(r.stdout, /^https:\/\/127\.0\.0\.1:\d+\/dex\s+kubectl-oidc\s.*\s\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in \S+\)\s+yes\s/m);
    assert.doesNotMatch(r.stdout, /eyJ/);
  });

  await t.test('a stale socket from a SIGKILLed agent is replaced; tokens survive through the store', async () => {
    const pid = agentPid(w);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !alive(pid), 5000, 'the agent to die');
    assert.ok(existsSync(sockPath(w)), 'the dead agent left its socket file');
    const launches = await w.launches();
    const codes = w.issuer.stats.tokenRequests.authorization_code;
    assertToken(await getToken());
    assert.notEqual(agentPid(w), pid, 'a new agent');
    assert.equal(await w.launches(), launches, 'no new login');
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, codes);
  });

  await t.test('SIGTERM: socket and state file removed', async () => {
    const pid = agentPid(w);
    process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), 5000, 'the agent to exit');
    assert.equal(existsSync(sockPath(w)), false);
    assert.equal(existsSync(join(runtime(w), 'agent.json')), false);
    assert.match(agentLog(w), /agent stopping: SIGTERM/);
  });

  await t.test('two agents started at once end with one', async () => {
    const env = { ...process.env, ...w.env };
    const a = run(PLUGIN_ARGV[0]!, [...PLUGIN_ARGV.slice(1), 'agent', '--idle-timeout=1m'], env, 15_000);
    const b = run(PLUGIN_ARGV[0]!, [...PLUGIN_ARGV.slice(1), 'agent', '--idle-timeout=1m'], env, 15_000);
    const first = await Promise.race([a, b]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /not starting: another agent is already running/);
    assertToken(await getToken());
    await w.stopAgent();
    await Promise.all([a, b]);
  });

  await t.test('idle exit', async () => {
    assertToken(await getToken({ KUBECTL_OIDC_AGENT_IDLE_TIMEOUT: '1s' }));
    const pid = agentPid(w);
    await waitFor(() => !alive(pid), 8000, 'idle exit');
    assert.equal(existsSync(sockPath(w)), false);
    assert.match(agentLog(w), /agent stopping: idle/);
  });

  await t.test('an agent of another version is asked to exit and replaced', async () => {
    // A stand-in for an old agent: answers every request with a version mismatch, exits on stop.
    const fake = join(w.dir, 'old-agent.cjs');
    writeFileSync(fake, `
      const net = require('node:net'); let stops = 0;
      const srv = net.createServer((s) => { let b = ''; s.on('data', (d) => { b += d; if (!b.includes('\\n')) return;
        const req = JSON.parse(b);
        if (req.op === 'stop') { s.end('{"t":"ok"}\\n'); srv.close(); require('node:fs').writeFileSync(process.argv[3], 'stopped'); process.exit(0); }
        s.end(JSON.stringify({ t: 'error', code: 'E_VERSION_MISMATCH', message: 'old', agentVersion: '0.0.1' }) + '\\n'); }); });
      srv.listen(process.argv[2], () => console.log('ready'));`);
    mkdirSync(runtime(w), { recursive: true, mode: 0o700 });
    const marker = join(w.dir, 'old-agent-stopped');
    const old = run(process.execPath, [fake, sockPath(w), marker], process.env, 20_000);
    await waitFor(() => existsSync(sockPath(w)), 5000, 'the old agent');
    assertToken(await getToken());
    assert.equal(readFileSync(marker, 'utf8'), 'stopped');
    assert.equal((await old).code, 0);
    assert.ok(alive(agentPid(w)), 'our own agent now runs');
  });

  await t.test('agent stop while a login waits for the browser: the login is cancelled and the agent exits', async () => {
    // An interactive caller (kubectl at a terminal): a login nobody can see would end at once with exit 3.
    const login = w.startPlugin(['get-token', ...w.tokenArgs, '--skip-open-browser', '--oidc-extra-scope=profile'], { env: execInfo(true) });
    // The login now waits for a person: the agent has sent the URL to open.
    await waitFor(() => login.stderr().includes('Open this URL in your browser to log in'), 20_000, 'the login URL');
    const pid = agentPid(w);
    const stop = await w.plugin(['agent', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    await waitFor(() => !alive(pid), 5000, 'the agent to exit');
    const r = await login.result;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Open this URL in your browser to log in/);
    assert.match(r.stderr, /kubectl-oidc: the agent is stopping; run the command again/);
  });

  await t.test('garbage from the socket: one line, then the work is done in-process', async () => {
    await w.stopAgent();
    const fake = join(w.dir, 'garbage-agent.cjs');
    writeFileSync(fake, `
      const net = require('node:net');
      const srv = net.createServer((s) => s.end('HTTP/1.1 200 OK\\r\\n\\r\\n<html>\\n'));
      srv.listen(process.argv[2]);
      setTimeout(() => process.exit(0), 15000);`);
    const impostor = run(process.execPath, [fake, sockPath(w)], process.env, 20_000);
    await waitFor(() => existsSync(sockPath(w)), 5000, 'the impostor');
    const r = await getToken();
    assertToken(r);
    assert.match(r.stderr, /kubectl-oidc: the agent failed \(the agent sent a frame this client does not understand|a frame is not valid JSON/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    await run('/bin/sh', ['-c', `pkill -f ${fake} || true`], process.env, 5000);
    await impostor;
  });

  await t.test('a runtime dir open to others is refused with a clear message; get-token still works in-process', async () => {
    await w.stopAgent();
    chmodSync(runtime(w), 0o755);
    try {
      const r = await getToken();
      assertToken(r);
      assert.match(r.stderr, /not using the agent: .* is open to other users \(mode 755\); refusing to use it/);
      assert.match(r.stderr, /chmod 700/);
      const a = await w.plugin(['agent']);
      assert.equal(a.code, 1);
      assert.match(a.stderr, /kubectl-oidc: .* is open to other users/);
      assert.doesNotMatch(a.stderr, /^\s+at /m);
    } finally {
      chmodSync(runtime(w), 0o700);
    }
  });

  await t.test('the agent cannot start: one clear line with the log tail, then the work is done in-process', async () => {
    const blocker = join(w.dir, 'not-a-dir');
    writeFileSync(blocker, '');
    // The baseline: the same work in-process, on this machine now.
    let started = Date.now();
    assertToken(await getToken({ KUBECTL_OIDC_NO_AGENT: '1' }));
    const inProcessMs = Date.now() - started;
    started = Date.now();
    const r = await getToken({ KUBECTL_OIDC_RUNTIME_DIR: join(blocker, 'run') });
    const ms = Date.now() - started;
    assertToken(r);
    assert.match(r.stderr, /the agent did not start; continuing without it/);
    assert.match(r.stderr, /cannot create .*not-a-dir\/run/);
    // Waiting out the client's 10 s wait for the socket would add 10 s; a failed agent spawn adds far less.
    assert.ok(ms - inProcessMs < 5_000, `did not wait out the socket timeout (${ms} ms; in-process alone ${inProcessMs} ms)`);
  });
});

test('refresh stampede and SIGKILL mid-refresh', { skip, timeout: 180_000 }, async (t) => {
  // The stale token is made by moving the stored expiry into the past (expireStoredTokens), not by waiting.
  const w = await createWorld();
  t.after(() => w.close());
  const getToken = () => w.plugin(['get-token', ...w.tokenArgs]);
  assertToken(await getToken());

  await t.test('40 concurrent get-token with a stale token on disk: one refresh grant, no failures', async () => {
    await expireStoredTokens(w); // stops the agent: no background refresh; the token is stale on disk
    // The refreshed token lives long: a second grant could only come from a second refresher.
    const before = w.issuer.stats.tokenRequests.refresh_token;
    const results = await Promise.all(Array.from({ length: 40 }, () => getToken()));
    for (const r of results) assertToken(r);
    assert.equal(w.issuer.stats.tokenRequests.refresh_token - before, 1);
    assert.equal(w.issuer.stats.refreshFailures, 0);
    assert.equal(new Set(results.map((r) => JSON.parse(r.stdout).status.token)).size, 1);
  });

  await t.test('the agent is SIGKILLed while its refresh is at the issuer: the next get-token still succeeds, the cache is intact', async () => {
    await expireStoredTokens(w);
    const before = w.issuer.stats.tokenRequests.refresh_token;
    const pending = getToken();
    await waitFor(() => w.issuer.stats.tokenRequests.refresh_token > before, 20_000, 'the refresh to reach the issuer');
    process.kill(agentPid(w), 'SIGKILL');
    await pending; // whatever it got, the next run must work
    for (const f of cacheFiles(w)) JSON.parse(readFileSync(join(w.env.XDG_CACHE_HOME!, 'kubectl-oidc', f), 'utf8'));
    const r = await getToken();
    assertToken(r);
    // If the issuer had already rotated the refresh token, the only way on is a new login (Dex
    // without reuseInterval); the browser driver completes it. Either way nothing is corrupt.
    t.diagnostic(`logins so far: ${await w.launches()}; refresh failures: ${w.issuer.stats.refreshFailures}`);
  });
});
