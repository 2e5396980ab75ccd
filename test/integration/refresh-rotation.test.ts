/**
 * Issue 17 item 5, against the rig's oidc-provider over HTTPS (rotating refresh tokens, like Dex):
 * when a refresh answer's ID token is refused (a bad aud, an exp years ahead), the refresh token in
 * that answer (the only live one: the issuer has spent the old) is saved, and the old one is never
 * presented again. On main, openid-client refused the answer before the session saw it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCA } from '../rig/ca.js';
import { startIssuer, PUBLIC_CLIENT_ID, PASSWORD_FOR_TESTS } from '../rig/issuer.js';
import { createIssuerClient } from '../../lib/oidc/issuer.js';
import { Session } from '../../lib/agent/session.js';
import { createMemoryStore } from '../../lib/store/file.js';
import { tokensOf } from '../../lib/login/grant.js';
import { OidcError, isOidcError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import type { UiConfig } from '../../lib/flags/table.js';

const ca = await createTestCA(mkdtempSync(join(tmpdir(), 'ko-rot-')));
const issuer = await startIssuer({ ca });
test.after(() => issuer.close());
const client = createIssuerClient(
  { issuerUrl: issuer.url, clientId: PUBLIC_CLIENT_ID, extraScopes: ['email'], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false },
  { cas: [ca.caPem], now: Date.now },
);
test.after(() => client.close());
const call = () => ({ network: {}, signal: AbortSignal.timeout(20_000) });
const ui: UiConfig = { grantType: 'authcode', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 30, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob' };

/** A session over the real issuer whose store holds a fresh login (password grant), seen `ageSec` later. */
async function loggedIn(ageSec: number) {
  const store = createMemoryStore();
  const t = await tokensOf(client, await client.passwordGrant('alice', PASSWORD_FOR_TESTS, call()), undefined, call());
  assert.ok(t.refreshToken, 'the rig issues a refresh token');
  await store.save('k', t);
  const now = () => Date.now() + ageSec * 1000;
  const session = new Session({
    key: 'k',
    store,
    issuer: client,
    login: async () => {
      throw new OidcError('E_LOGIN_REQUIRED', 'login required (test)');
    },
    lock: async () => async () => {},
    now,
    log: silentLogger,
    loginTimeoutMs: () => 1000,
  });
  const ctx = { interactive: false, forceRefresh: false, ui, env: {}, caller: { notify: () => {}, prompt: async () => null } };
  return { store, session, first: t, get: () => session.getToken(ctx) };
}

for (const [name, claims, why] of [
  ['another audience', { aud: 'someone-else' }, /audience \(aud\) does not contain the client ID/],
  ['an exp of 10^12 (year 33658)', { exp: 1e12 }, /its exp \(1000000000000\) is not a usable time/],
] as const) {
  test(`a refresh answer whose ID token has ${name}: the rotated refresh token is saved, the current token served, the old one never presented again`, async () => {
    const w = await loggedIn(3600 - 120); // inside the refresh margin, not yet expired
    issuer.resetStats();
    issuer.setRefreshClaims(claims);
    try {
      const served = await w.get();
      assert.equal(served.idToken, w.first.idToken, 'the refused token is not served; the current one is');
      assert.equal(issuer.stats.tokenRequests.refresh_token, 1);
      const kept = await w.store.load('k');
      assert.ok(kept?.refreshToken && kept.refreshToken !== w.first.refreshToken, 'the store holds the rotated refresh token');
      // The refused answer's own error, from our verification, in one line:
      await assert.rejects(w.session.refresh({}), (e) => isOidcError(e, 'E_ID_TOKEN_INVALID') && why.test((e as Error).message) && !(e as Error).message.includes('\n'));
    } finally {
      issuer.setRefreshClaims(undefined);
    }
    const next = await w.session.refresh({});
    assert.notEqual(next.idToken, w.first.idToken);
    assert.equal(issuer.stats.refreshFailures, 0, 'no spent refresh token was ever presented');
    assert.equal(issuer.stats.tokenRequests.refresh_token, 3);
  });
}

test('refreshGrant hands back the rotated refresh token with an ID token openid-client refused (our verification judges it)', async () => {
  const t = await tokensOf(client, await client.passwordGrant('alice', PASSWORD_FOR_TESTS, call()), undefined, call());
  issuer.setRefreshClaims({ aud: 'someone-else' });
  try {
    const g = await client.refreshGrant(t.refreshToken!, call());
    assert.ok(g.refreshToken && g.refreshToken !== t.refreshToken);
    assert.ok(g.idToken);
    await assert.rejects(client.verify(g.idToken, {}, call()), (e) => isOidcError(e, 'E_ID_TOKEN_INVALID'));
    // The new refresh token is the live one.
    issuer.setRefreshClaims(undefined);
    assert.ok((await client.refreshGrant(g.refreshToken, call())).refreshToken);
  } finally {
    issuer.setRefreshClaims(undefined);
  }
});
