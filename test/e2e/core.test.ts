/**
 * Issue 2 end to end: real kubectl, real Chromium, a real HTTPS issuer and a test API server,
 * through the agent that get-token starts on demand. One world per scenario; steps run in order.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, requireTools, cacheFiles, agentLog, execInfo, expireStoredTokens, waitFor } from './world.js';
import { SECRET_CLIENT_ID, CLIENT_SECRET } from '../rig/issuer.js';

const skip = requireTools();

test('login, cache, logout, ten concurrent kubectl runs', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());

  await t.test('kubectl auth whoami logs in through the browser and prints email and groups', async () => {
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.match(r.stdout, /developers/);
    assert.match(r.stdout, /kubectl-oidc:users/);
    assert.match(r.stderr, /Opening your browser/);
    assert.equal(await w.launches(), 1);
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 1);
  });

  await t.test('the token is cached: no browser, no token request', async () => {
    const before = { ...w.issuer.stats.tokenRequests };
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(r.stderr, '', 'nothing to say on a cache hit');
    assert.equal(await w.launches(), 1);
    assert.deepEqual(w.issuer.stats.tokenRequests, before);
  });

  await t.test('`kubectl oidc get-token` through plugin discovery, answering v1beta1 when asked', async () => {
    const kc = await w.kubeconfig('kubeconfig-plugin', { command: 'kubectl', args: ['oidc', 'get-token', ...w.tokenArgs], apiVersion: 'client.authentication.k8s.io/v1beta1' });
    const r = await w.kubectl(['auth', 'whoami'], { kubeconfig: kc });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 1, 'the same session: no new login');
    const raw = await w.plugin(['get-token', ...w.tokenArgs], { env: execInfo(false, undefined, 'client.authentication.k8s.io/v1beta1') });
    assert.equal(JSON.parse(raw.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1');
    const plain = await w.plugin(['get-token', ...w.tokenArgs]);
    assert.equal(JSON.parse(plain.stdout).apiVersion, 'client.authentication.k8s.io/v1beta1', 'no KUBERNETES_EXEC_INFO: v1beta1');
  });

  await t.test('the cache file is 0600 in a 0700 dir and holds no token in its name', () => {
    const files = cacheFiles(w);
    assert.equal(files.length, 1);
    const dir = join(w.env.XDG_CACHE_HOME!, 'kubectl-oidc');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, files[0]!)).mode & 0o777, 0o600);
  });

  await t.test('the agent log holds no token', () => {
    const log = agentLog(w);
    assert.match(log, /logged in/);
    assert.doesNotMatch(log, /eyJ/);
  });

  await t.test('kubectl oidc logout, then ten concurrent kubectl runs open the browser once', async () => {
    const out = await w.plugin(['logout', ...w.tokenArgs]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(cacheFiles(w).length, 0, 'logout removes the token file');
    const launches = await w.launches();
    const codes = await Promise.all(Array.from({ length: 10 }, () => w.kubectl(['get', '--raw', '/api/v1/namespaces'], { timeoutMs: 90_000 })));
    for (const r of codes) assert.equal(r.code, 0, r.stderr);
    assert.equal((await w.launches()) - launches, 1, 'one browser tab for ten kubectl processes');
  });

  await t.test('kubectl oidc login says who is logged in; stdout stays empty', async () => {
    const r = await w.plugin(['login', ...w.tokenArgs]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /logged in as alice@example\.com; ID token valid until \d{4}-/);
  });

  await t.test('a confidential client: --oidc-client-secret reaches the token endpoint, never stderr or the agent log', async () => {
    const args = w.tokenArgs.filter((a) => !a.startsWith('--oidc-client-id')).concat(`--oidc-client-id=${SECRET_CLIENT_ID}`, `--oidc-client-secret=${CLIENT_SECRET}`);
    const r = await w.plugin(['get-token', ...args]);
    assert.equal(r.code, 0, r.stderr);
    const claims = JSON.parse(Buffer.from(JSON.parse(r.stdout).status.token.split('.')[1], 'base64url').toString());
    assert.equal(claims.aud, SECRET_CLIENT_ID);
    assert.ok(!r.stderr.includes(CLIENT_SECRET));
    assert.ok(!agentLog(w).includes(CLIENT_SECRET));
    assert.match(r.stderr, /--oidc-client-secret is visible to every local user \(ps\); use --oidc-client-secret-file=FILE or KUBECTL_OIDC_CLIENT_SECRET/);
    const again = await w.plugin(['get-token', ...args]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /visible to every local user/, 'warned once');
  });
});

test('refresh after expiry, and a new login after the grant is revoked', { skip, timeout: 120_000 }, async (t) => {
  // The one test that waits for a real expiry (kubectl, the API server and the agent all read the
  // wall clock): TTL seconds. The others expire the stored token instead (expireStoredTokens). Shorter
  // than 8 s, a login on a loaded 2-core machine can take most of the lifetime: 4 s failed there.
  const TTL = 8;
  const w = await createWorld({ issuer: { idTokenTtl: TTL } });
  t.after(() => w.close());
  const r1 = await w.kubectl(['auth', 'whoami']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(await w.launches(), 1);
  const firstToken = JSON.parse(readFileSync(join(w.env.XDG_CACHE_HOME!, 'kubectl-oidc', cacheFiles(w)[0]!), 'utf8')).tokens as { idToken: string; expiresAt: number };

  await t.test('after the ID token expires, the next run has a new token without a browser', async () => {
    await waitFor(() => Date.now() > firstToken.expiresAt * 1000, (TTL + 5) * 1000, 'the first ID token to expire');
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await w.launches(), 1, 'no browser');
    assert.ok(w.issuer.stats.tokenRequests.refresh_token >= 1, 'refreshed');
    assert.equal(w.issuer.stats.refreshFailures, 0, 'no rotated refresh token was ever presented twice');
    // Tokens from now on outlive the test: only expireStoredTokens() below makes one stale.
    w.issuer.setIdTokenTtl(3600);
  });

  await t.test('after the issuer revokes the grant, the next run logs in again', async () => {
    await expireStoredTokens(w);
    w.issuer.revokeAll();
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 2, 'a new browser login');
  });

  await t.test('an issuer that answers a refresh without an ID token: handled by a new login, not a crash', async () => {
    w.issuer.setOmitIdTokenOnRefresh(true);
    const refreshes = w.issuer.stats.tokenRequests.refresh_token;
    await expireStoredTokens(w);
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.ok(w.issuer.stats.tokenRequests.refresh_token > refreshes, 'a refresh was tried');
    assert.equal(await w.launches(), 3, 'then a login, since the old ID token had expired');
    assert.ok(w.issuer.stats.tokenRequests.refresh_token - refreshes <= 3, `no refresh storm (${w.issuer.stats.tokenRequests.refresh_token - refreshes} refreshes)`);
  });
});
