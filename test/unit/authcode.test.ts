/**
 * Issue 11, gap 8: the browser is started with a one-time loopback link, never with the issuer URL
 * (its state, nonce and code challenge would be readable by every local user in /proc/PID/cmdline).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginWithBrowser } from '../../lib/login/authcode.js';
import type { IssuerClient } from '../../lib/oidc/issuer.js';
import type { UiConfig } from '../../lib/flags/table.js';
import type { Logger } from '../../lib/log.js';

const log: Logger = { info() {}, warn() {}, error() {}, debug() {} };

function fakeIssuer(): IssuerClient & { codes: string[] } {
  const codes: string[] = [];
  return {
    issuerUrl: 'https://issuer.example',
    insecure: false,
    codes,
    async authorizationUrl(p) {
      const u = new URL('https://issuer.example/auth');
      for (const [k, v] of Object.entries({ redirect_uri: p.redirectUri, state: p.state, nonce: p.nonce, code_challenge: p.codeChallenge ?? '' })) u.searchParams.set(k, v);
      return u.href;
    },
    async capabilities() {
      return { callbackIss: false, pkceS256: true, deviceCode: false };
    },
    async deviceAuthorization() {
      throw new Error('not used');
    },
    async pollDevice() {
      throw new Error('not used');
    },
    async passwordGrant() {
      throw new Error('not used');
    },
    async clientCredentialsGrant() {
      throw new Error('not used');
    },
    async revoke() {
      return 'unsupported' as const;
    },
    async exchangeCode(p) {
      codes.push(p.code);
      return { idToken: 'header.payload.sig', refreshToken: 'rt' };
    },
    async refreshGrant() {
      throw new Error('not used');
    },
    async verify() {
      return { claims: { sub: 'u' }, expiresAt: 2_000_000_000, issuedAt: 1_000_000_000 };
    },
    async close() {},
  };
}

const ui = (over: Partial<UiConfig> = {}): UiConfig =>
  ({ grantType: 'authcode', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 20, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob', ...over }) satisfies UiConfig;

test('the browser and the terminal get a one-time loopback link that leads to the issuer', async () => {
  const issuer = fakeIssuer();
  const shown: string[] = [];
  let launched = '';
  const tokens = await loginWithBrowser(issuer, { ui: ui(), env: {}, interactive: true, prompt: async () => null }, {
    show: (m) => shown.push(m),
    log,
    openBrowser: async (url) => {
      launched = url;
      // The "browser": follow the link to the issuer, which sends it back to the redirect URI.
      const hop = await fetch(url, { redirect: 'manual' });
      const auth = new URL(hop.headers.get('location')!);
      const cookie = hop.headers.get('set-cookie')!.split(';')[0]!;
      const back = new URL(auth.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', 'the-code');
      back.searchParams.set('state', auth.searchParams.get('state')!);
      void fetch(back, { headers: { cookie } }).then((r) => r.text());
    },
  }, AbortSignal.timeout(20_000));
  // On the redirect URI's host (localhost), so that the link's cookie comes back with the callback.
  assert.match(launched, /^http:\/\/localhost:\d+\/login\/[A-Za-z0-9_-]+$/);
  for (const secret of ['state', 'nonce', 'code_challenge', 'issuer.example']) assert.ok(!launched.includes(secret), `argv shows ${secret}`);
  assert.ok(shown.join('\n').includes(`visit:\n  ${launched}`), 'the terminal shows the same one-time link');
  assert.ok(!shown.join('\n').includes('issuer.example'), 'the terminal never shows the authorization URL (its state)');
  assert.deepEqual(issuer.codes, ['the-code']);
  assert.equal(tokens.refreshToken, 'rt');
});
