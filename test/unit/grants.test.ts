/**
 * Which login flow auto picks (issue 16 item 5), PKCE when forced (item 6), and the client
 * credentials session (item 6): ID token if given, else the access token; renewed by asking again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import type { UiConfig } from '../../lib/flags/table.js';
import { isOidcError } from '../../lib/errors.js';
import { chooseGrant } from '../../lib/login/index.js';
import { pkceFor, type LoginRequest } from '../../lib/login/authcode.js';
import { loginWithClientCredentials } from '../../lib/login/client-credentials.js';
import { Session } from '../../lib/agent/session.js';
import type { IssuerClient, GrantResponse } from '../../lib/oidc/issuer.js';
import type { TokenSet, TokenStore } from '../../lib/store/types.js';
import type { Logger } from '../../lib/log.js';

const log: Logger = { info() {}, warn() {}, error() {}, debug() {} };
const uiOf = (...extra: string[]): UiConfig => {
  const p = parseTokenFlags(['--oidc-issuer-url=https://dex.example.com', '--oidc-client-id=k', ...extra], '/', {});
  if (p.help) assert.fail();
  return p.flags.ui;
};

function fakeIssuer(opts: { deviceCode?: boolean; grant?: GrantResponse } = {}) {
  const calls: string[] = [];
  const no = (what: string) => async (): Promise<never> => {
    calls.push(what);
    throw new Error(`${what} not expected`);
  };
  const issuer: IssuerClient = {
    issuerUrl: 'https://dex.example.com',
    insecure: false,
    authorizationUrl: no('authorizationUrl'),
    async capabilities() {
      calls.push('capabilities');
      return { callbackIss: false, pkceS256: true, deviceCode: opts.deviceCode ?? true };
    },
    deviceAuthorization: no('deviceAuthorization'),
    pollDevice: no('pollDevice'),
    passwordGrant: no('passwordGrant'),
    async clientCredentialsGrant() {
      calls.push('clientCredentialsGrant');
      return opts.grant ?? {};
    },
    exchangeCode: no('exchangeCode'),
    refreshGrant: no('refreshGrant'),
    async verify(idToken) {
      calls.push('verify');
      return { expiresAt: 2_000, issuedAt: 1_000, claims: { sub: 'svc' }, idToken } as never;
    },
    revoke: no('revoke'),
    close: async () => {},
  };
  return { issuer, calls };
}
const req = (ui: UiConfig, interactive: boolean, env: Record<string, string> = {}): LoginRequest => ({ ui, env, interactive, prompt: async () => null });
const signal = new AbortController().signal;

test('auto: which flow, for whom', { skip: process.platform !== 'linux' && 'the desktop rules differ on macOS and Windows' }, async () => {
  const desktop = { DISPLAY: ':0' };
  const cases: [string, LoginRequest, string | RegExp][] = [
    ['a person at a terminal with a desktop', req(uiOf(), true, desktop), 'authcode'],
    ['not interactive, with a desktop: the browser, as kubelogin', req(uiOf(), false, desktop), 'authcode'],
    ['not interactive, --browser-command', req(uiOf('--browser-command=firefox'), false), 'authcode'],
    ['not interactive, $BROWSER', req(uiOf(), false, { BROWSER: 'firefox' }), 'authcode'],
    ['a person at a terminal, no desktop: device code', req(uiOf(), true), 'device-code'],
    ['a person at a terminal, --skip-open-browser: the printed URL', req(uiOf('--skip-open-browser'), true, desktop), 'authcode'],
    ['not interactive, no desktop', req(uiOf(), false), /login required: run `kubectl oidc login`.*no browser can open here/],
    ['not interactive, --skip-open-browser', req(uiOf('--skip-open-browser'), false, desktop), /login required: run `kubectl oidc login`.*--skip-open-browser/],
    ['--grant-type given: that one', req(uiOf('--grant-type=client-credentials'), false), 'client-credentials'],
  ];
  for (const [name, r, want] of cases) {
    const { issuer, calls } = fakeIssuer();
    if (typeof want === 'string') {
      assert.equal((await chooseGrant(issuer, r, signal)).grant, want, name);
    } else {
      await assert.rejects(chooseGrant(issuer, r, signal), (e) => isOidcError(e, 'E_LOGIN_REQUIRED') && want.test((e as Error).message), name);
      assert.deepEqual(calls, [], `${name}: not a single request to the issuer`);
    }
  }
  const { issuer } = fakeIssuer({ deviceCode: false });
  await assert.rejects(chooseGrant(issuer, req(uiOf(), true), signal), (e) => isOidcError(e, 'E_LOGIN_REQUIRED'));
});

test('--oidc-use-pkce forces S256, even when the issuer lists no S256 (kubelogin); --oidc-pkce-method=no alone turns it off', () => {
  assert.equal(uiOf('--oidc-use-pkce').pkceMethod, 'S256');
  assert.equal(uiOf('--oidc-use-pkce', '--oidc-pkce-method=no').pkceMethod, 'S256', 'kubelogin: --oidc-use-pkce wins');
  assert.ok(pkceFor(uiOf('--oidc-use-pkce').pkceMethod, false), 'a challenge although discovery lists other methods');
  assert.equal(pkceFor(uiOf().pkceMethod, false), undefined, 'auto follows the issuer');
  assert.equal(pkceFor(uiOf('--oidc-pkce-method=no').pkceMethod, true), undefined);
});

test('client credentials: the ID token when the issuer returns one (verified), else the access token only', async () => {
  const withId = fakeIssuer({ grant: { idToken: 'h.p.s', accessToken: 'at', expiresIn: 60 } });
  const a = await loginWithClientCredentials(withId.issuer, req(uiOf('--grant-type=client-credentials'), false), signal, () => 1_000_000);
  assert.equal(a.idToken, 'h.p.s');
  assert.ok(withId.calls.includes('verify'));
  const accessOnly = fakeIssuer({ grant: { accessToken: 'at', expiresIn: 60 } });
  const b = await loginWithClientCredentials(accessOnly.issuer, req(uiOf('--grant-type=client-credentials'), false), signal, () => 1_000_000);
  assert.deepEqual(b, { idToken: '', accessToken: 'at', expiresAt: 1_060, accessExpiresAt: 1_060, issuedAt: 1_000 });
  const neither = fakeIssuer({ grant: {} });
  await assert.rejects(loginWithClientCredentials(neither.issuer, req(uiOf(), false), signal), (e) => isOidcError(e, 'E_ISSUER_RESPONSE'));
});

test('a client-credentials session asks again before expiry: no refresh token, no browser, the clock moved', async () => {
  let nowMs = 1_000_000;
  const saved = new Map<string, TokenSet>();
  const store: TokenStore = { kind: 'none', load: async (k) => saved.get(k), save: async (k, t) => void saved.set(k, t), delete: async (k) => void saved.delete(k) };
  let grants = 0;
  const { issuer } = fakeIssuer();
  const session = new Session({
    key: 'k',
    store,
    issuer,
    now: () => nowMs,
    log,
    loginTimeoutMs: () => 5_000,
    lock: async () => async () => {},
    login: async (r, show, s) => {
      grants++;
      const fake = fakeIssuer({ grant: { accessToken: `at${grants}`, expiresIn: 600 } });
      return loginWithClientCredentials(fake.issuer, r, s, () => nowMs);
    },
  });
  const ctx = { interactive: false, forceRefresh: false, ui: uiOf('--grant-type=client-credentials'), env: {}, caller: { notify() {}, prompt: async () => null } };
  assert.equal((await session.getToken(ctx)).accessToken, 'at1');
  nowMs += 400_000;
  assert.equal((await session.getToken(ctx)).accessToken, 'at1', 'still fresh: the same token');
  nowMs += 160_000; // 40 s before expiry: inside the refresh margin
  assert.equal((await session.getToken(ctx)).accessToken, 'at2', 'asked again before it expired');
  assert.equal(grants, 2);
});
