/**
 * Issue 7, "One session, one identity": a regression test for each defect, end to end through the
 * agent that get-token starts, a real HTTPS issuer, real kubectl and Chromium. Each of these failed
 * on the code before that issue (run them against another build with KUBECTL_OIDC_TEST_ENTRY).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { assertClearFailure, createWorld, requireTools, cacheFiles, agentLog, execInfo, expireStoredTokens } from './world.js';
import { writeBrowserWrapper } from '../rig/browser.js';
import type { KubectlResult } from '../rig/apiserver.js';

const skip = requireTools();

const subOf = (r: KubectlResult) => JSON.parse(Buffer.from(JSON.parse(r.stdout).status.token.split('.')[1], 'base64url').toString()).sub as string;


test('logout finds the live session by its identity: NO_PROXY in the shell, other storage flags', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // A company laptop: proxy variables in every shell, the issuer exempted.
  const corp = { NO_PROXY: 'localhost,127.0.0.1,.corp.example', no_proxy: 'localhost,127.0.0.1,.corp.example' };

  await t.test('logout with NO_PROXY set: the next kubectl run needs a new login', async () => {
    const r1 = await w.kubectl(['auth', 'whoami'], { env: corp });
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(await w.launches(), 1);
    const out = await w.plugin(['logout', ...w.tokenArgs], { env: corp });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /logged out \(removed from agent memory, the token file in /);
    assert.equal(cacheFiles(w).length, 0, 'no token file left');
    const r2 = await w.kubectl(['auth', 'whoami'], { env: corp });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(await w.launches(), 2, 'the agent no longer serves the old session: a new browser login');
  });

  await t.test('logout with another --token-cache-storage and --token-cache-dir still logs out, and nothing is written back', async () => {
    const elsewhere = join(w.dir, 'elsewhere');
    const args = [...w.tokenArgs.filter((a) => !a.startsWith('--token-cache-storage')), '--token-cache-storage=none', `--token-cache-dir=${elsewhere}`];
    const out = await w.plugin(['logout', ...args]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /agent memory/);
    assert.equal(cacheFiles(w).length, 0);
    const r = await w.plugin(['get-token', ...w.tokenArgs], { env: { ...corp, ...execInfo(false) } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await w.launches(), 3, 'a new login, not the session from before the logout');
  });
});

test('refresh: a key-set outage keeps the rotated refresh token; another sub is refused; a 400 with an empty body means log in again', { skip, timeout: 240_000 }, async (t) => {
  // Each step expires the stored token (expireStoredTokens: the clock moved past its expiry) instead of waiting.
  const w = await createWorld();
  t.after(() => w.close());
  const getToken = (interactive = false) => w.plugin(['get-token', ...w.tokenArgs], { env: execInfo(interactive) });
  const r0 = await w.kubectl(['auth', 'whoami']);
  assert.equal(r0.code, 0, r0.stderr);
  assert.equal(await w.launches(), 1);

  await t.test('the JWKS answers 503 right after the refresh grant (a new agent, cold key cache): the rotated token survives', async () => {
    await expireStoredTokens(w); // stops the agent: the next one has no keys cached
    w.issuer.setFault('jwks', { status: 503 });
    const before = w.issuer.stats.tokenRequests.refresh_token;
    const r = await getToken();
    assertClearFailure(r, 1, /the issuer's keys could not be fetched: HTTP 503 from https:\/\/127\.0\.0\.1:\d+\/dex\/keys/);
    assert.match(r.stderr, /the next try will succeed once the issuer is back/);
    assert.doesNotMatch(r.stderr, /ERR_JOSE|rejected/, 'an outage is not reported as a forged token');
    assert.equal(w.issuer.stats.tokenRequests.refresh_token - before, 1, 'the refresh token was spent at the issuer');
    w.issuer.setFault('jwks', undefined);
    const ok = await w.kubectl(['auth', 'whoami']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(w.issuer.stats.refreshFailures, 0, 'the spent refresh token was never presented again');
    assert.equal(await w.launches(), 1, 'no browser login');
  });

  await t.test('a refreshed ID token for another subject is refused; the next interactive call logs in again', async () => {
    w.issuer.setRefreshSubject('mallory');
    await expireStoredTokens(w); // stops the agent: the refresh happens in the foreground, for this caller
    const r = await getToken();
    assertClearFailure(r, 1, /refreshed ID token is for another user/);
    assert.match(agentLog(w), /the refreshed ID token is for another subject; a new login is needed/);
    const again = await getToken(true);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(subOf(again), 'alice');
    assert.equal(await w.launches(), 2, 'a new login');
    w.issuer.setRefreshSubject(undefined);
  });

  await t.test('the issuer refuses a revoked refresh token with HTTP 400 and an empty body: a new login, not an error loop', async () => {
    w.issuer.setRefreshRefusalStyle('empty-400');
    await expireStoredTokens(w);
    w.issuer.revokeAll();
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 3, 'one new login');
    // Classified as a refusal (not an outage to retry): the session ended, hence the one login above.
    assert.match(agentLog(w), /session [0-9a-f]+: the issuer refused the refresh token; a new login is needed/);
  });
});

test('each login uses the settings of the caller that starts it', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const denyLog = join(w.dir, 'deny.log');
  const deny = writeBrowserWrapper(w.dir, { log: denyLog, mode: 'deny', spki: w.issuer.spki }, 'deny-browser');
  const withBrowser = (cmd: string) => [...w.tokenArgs.filter((a) => !a.startsWith('--browser-command')), `--browser-command=${cmd}`];
  const denied = await w.plugin(['get-token', ...withBrowser(deny)], { env: execInfo(true) });
  assert.equal(denied.code, 1, denied.stderr);
  assert.equal(denied.stdout, '');
  assert.match(denied.stderr, /the issuer refused the login: access_denied/);
  const ok = await w.plugin(['get-token', ...w.tokenArgs], { env: execInfo(true) });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await w.launches(), 1, 'the second login opened the second caller\'s browser');
});

test('agent start says why no agent runs; a relative KUBECTL_OIDC_RUNTIME_DIR is refused', { skip, timeout: 60_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  await t.test('KUBECTL_OIDC_NO_AGENT=1: agent start fails and says why', async () => {
    assertClearFailure(await w.plugin(['agent', 'start'], { env: { KUBECTL_OIDC_NO_AGENT: '1' } }), 1, /no agent is started while KUBECTL_OIDC_NO_AGENT=1 is set/);
  });
  await t.test('a runtime dir open to others: agent start fails and says why', async () => {
    const dir = join(w.dir, 'open-run');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    assertClearFailure(await w.plugin(['agent', 'start'], { env: { KUBECTL_OIDC_RUNTIME_DIR: dir } }), 1, /is open to other users \(mode 755\)/);
  });
  await t.test('agent start with a usable dir starts one and names its pid', async () => {
    const r = await w.plugin(['agent', 'start']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /agent started \(pid \d+/);
    assert.doesNotMatch(r.stderr, new RegExp(`pid ${process.pid}\\b`));
  });
  await t.test('a relative runtime dir is refused with a clear message', async () => {
    const r = await w.plugin(['get-token', ...w.tokenArgs], { env: { KUBECTL_OIDC_RUNTIME_DIR: 'run-relative' }, timeoutMs: 30_000 });
    assertClearFailure(r, 1, /KUBECTL_OIDC_RUNTIME_DIR must be an absolute path/);
  });
});
