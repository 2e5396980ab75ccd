/**
 * Issue 11, faults with the agent in the path: one world, steps in order. The issuer fails in each
 * way real ones do (500s, garbage, truncated JSON, too slow, down) at each endpoint (discovery, key
 * set, token); it rotates its key; its clock runs ahead. Every wait is bounded, every error is one
 * line, the agent keeps running, and a still-valid cached token keeps being served.
 *
 * The per-request bound is 30 s; the agent here runs with KUBECTL_OIDC_HTTP_TIMEOUT_MS=2000 so a
 * "slow" issuer (6 s) takes seconds, not minutes, to prove it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, agentPid, assertClearFailure, createWorld, requireTools, agentLog, type World, execInfo } from './world.js';
import type { KubectlResult } from '../rig/apiserver.js';
import type { Fault, FaultEndpoint } from '../rig/issuer.js';

const skip = requireTools();
const HTTP_TIMEOUT_MS = 2_000;
const tokenOf = (r: KubectlResult) => JSON.parse(r.stdout).status.token as string;
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

const FAULTS: { name: string; fault: Fault; message: RegExp }[] = [
  { name: '500', fault: { status: 500, body: 'internal error' }, message: /HTTP 500|500/ },
  { name: 'garbage', fault: { status: 200, body: '<html>hello</html>', contentType: 'text/html' }, message: /is not JSON|not valid JSON|HTTP 200/ },
  { name: 'truncated JSON', fault: { truncate: true }, message: /not valid JSON|not JSON/ },
  { name: `slow (6 s; bound ${HTTP_TIMEOUT_MS} ms)`, fault: { delayMs: 6_000 }, message: /timed out|abort|cancel/i },
];
const ENDPOINTS: FaultEndpoint[] = ['discovery', 'jwks', 'token'];

test('faults with the agent in the path', { skip, timeout: 600_000 }, async (t) => {
  const w = await createWorld({ issuer: { idTokenTtl: 3600 } });
  w.env.KUBECTL_OIDC_HTTP_TIMEOUT_MS = String(HTTP_TIMEOUT_MS);
  t.after(() => w.close().catch(() => {}));
  const getToken = (extra: string[] = [], interactive = true) => w.plugin(['get-token', ...w.tokenArgs, ...extra], { env: execInfo(interactive), timeoutMs: 60_000 });
  const first = await getToken();
  assert.equal(first.code, 0, first.stderr);
  let cached = tokenOf(first);
  // Time bounds are the faults' own cost (HTTP_TIMEOUT_MS per round trip) plus what the same request
  // costs without a fault on this machine now, measured here, a new agent each time as below.
  await w.stopAgent();
  let s0 = Date.now();
  const refreshed = await getToken(['--force-refresh'], false);
  const refreshMs = Date.now() - s0;
  assert.equal(refreshed.code, 0, refreshed.stderr);
  cached = tokenOf(refreshed);
  await w.stopAgent();
  s0 = Date.now();
  const login = await getToken(['--oidc-extra-scope=profile', `--token-cache-dir=${join(w.dir, 'fresh-baseline')}`]);
  const loginMs = Date.now() - s0;
  assert.equal(login.code, 0, login.stderr);
  t.diagnostic(`without a fault: a refresh by a new agent ${refreshMs} ms, a login ${loginMs} ms`);

  for (const endpoint of ENDPOINTS) {
    for (const f of FAULTS) {
      await t.test(`${endpoint}: ${f.name}`, async () => {
        // A new agent: discovery and the key set are fetched again, so the fault is met.
        await w.stopAgent();
        w.issuer.setFault(endpoint, f.fault);
        const launches = await w.launches();
        try {
          // A still-valid cached token keeps being served while refreshing fails.
          let s = Date.now();
          const served = await getToken(['--force-refresh'], false);
          const servedMs = Date.now() - s;
          assert.equal(served.code, 0, served.stderr);
          const pid = agentPid(w)!;
          assert.equal(tokenOf(served), cached, 'the cached token');
          t.diagnostic(`${endpoint} ${f.name}: cached token served in ${servedMs} ms`);
          assert.ok(servedMs < 3 * HTTP_TIMEOUT_MS + 3 * refreshMs, `bounded: ${servedMs} ms (without a fault ${refreshMs} ms)`);
          const warn = agentLog(w).split('\n').filter((l) => /refresh failed \(/.test(l)).pop() ?? '';
          assert.match(warn, f.message, `the agent log says why in one line: ${warn}`);

          // A session with nothing cached (other scopes): one clear line, in bounded time.
          s = Date.now();
          const fresh = await getToken([`--oidc-extra-scope=profile`, `--token-cache-dir=${join(w.dir, `fresh-${endpoint}-${f.name.split(' ')[0]}`)}`]);
          const freshMs = Date.now() - s;
          t.diagnostic(`${endpoint} ${f.name}: no cache: ${freshMs} ms: ${fresh.stderr.trim().split('\n')[0]}`);
          // A slow key set during a login may still end in time (it is fetched again); either way, bounded.
          if (!(fresh.code === 0 && f.fault.delayMs)) assertClearFailure(fresh, 1, f.message, { afterNotices: true });
          assert.ok(freshMs < 3 * HTTP_TIMEOUT_MS + 3 * loginMs, `bounded: ${freshMs} ms (a login without a fault ${loginMs} ms)`);
          assert.ok(alive(pid), 'the agent keeps running');
          assert.equal(agentPid(w), pid);
        } finally {
          w.issuer.setFault(endpoint, undefined);
        }
        // Back to normal: the session is still there (no new browser login), except when a
        // truncated token answer lost the rotated refresh token: then one clean re-login.
        const launchesBefore = await w.launches();
        const again = await getToken(['--force-refresh']);
        assert.equal(again.code, 0, again.stderr);
        cached = tokenOf(again);
        const logins = (await w.launches()) - launchesBefore;
        // The issuer spent the refresh token but the answer never arrived (cut short, or after our
        // timeout): the rotated token is lost, as issue 11 allows; then one clean re-login.
        const lostRotation = endpoint === 'token' && (f.fault.truncate === true || f.fault.delayMs !== undefined);
        if (f.fault.truncate || !lostRotation) assert.equal(logins, lostRotation ? 1 : 0, lostRotation ? 'one clean re-login' : 'the session survived');
        else assert.ok(logins <= 1, 'at most one clean re-login (the issuer may or may not have processed the timed-out grant)');
        void launches;
      });
    }
  }

  await t.test('key rotation: tokens with the new kid verify after one key-set refetch', async () => {
    await w.stopAgent();
    assert.equal((await getToken(['--force-refresh'])).code, 0); // a new agent: keys fetched once
    const before = w.issuer.stats.jwks;
    const kid = w.issuer.rotateSigningKey();
    const r = await getToken(['--force-refresh']);
    assert.equal(r.code, 0, r.stderr);
    cached = tokenOf(r);
    const header = JSON.parse(Buffer.from(cached.split('.')[0]!, 'base64url').toString());
    assert.equal(header.kid, kid);
    assert.equal(w.issuer.stats.jwks - before, 1, 'one refetch');
    const k = await w.kubectl(['auth', 'whoami']);
    assert.equal(k.code, 0, k.stderr);
  });

  await t.test('clock skew: an issuer 3 minutes ahead (iat in our future) is tolerated', async () => {
    const now = Math.floor(Date.now() / 1000);
    const idToken = await w.issuer.mintIdToken({ iat: now + 180 }); // Dex sets no nbf
    w.issuer.setFault('token', { status: 200, body: JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 3600, id_token: idToken }), times: 1 });
    const r = await getToken(['--force-refresh']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(claimsOf(tokenOf(r)).iat, now + 180, agentLog(w).split('\n').slice(-4).join('\n'));
    cached = tokenOf(r);
  });

  await t.test('the issuer is down: the cached token is served at once; a session without one fails in one line', async () => {
    const pid = agentPid(w)!;
    await w.issuer.close();
    const s = Date.now();
    const r = await w.plugin(['get-token', ...w.tokenArgs, '--force-refresh'], { env: execInfo(false), timeoutMs: 20_000 });
    assert.equal(r.code, 0, `after ${Date.now() - s} ms: ${r.stderr}`);
    assert.equal(tokenOf(r), cached);
    assert.ok(Date.now() - s < 3 * refreshMs, `served in ${Date.now() - s} ms (a refresh ${refreshMs} ms)`);
    const fresh = await getToken(['--oidc-extra-scope=profile', `--token-cache-dir=${join(w.dir, 'fresh-down')}`]);
    assertClearFailure(fresh, 1, /cannot reach https:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/, { afterNotices: true });
    assert.ok(alive(pid));
  });
});
