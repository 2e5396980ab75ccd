import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, isFresh, refreshMargin, LOGIN_COOLDOWN_MS, type SessionDeps, type TokenContext } from '../../lib/agent/session.js';
import type { UiConfig } from '../../lib/flags/table.js';

const ui: UiConfig = { grantType: 'authcode', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 30, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob' };
import { createMemoryStore } from '../../lib/store/file.js';
import { OidcError, isOidcError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import type { TokenSet } from '../../lib/store/types.js';
import type { RefreshIssuer } from '../../lib/agent/session.js';
import type { GrantResponse } from '../../lib/oidc/issuer.js';

/** A fake ID token: a JWT-shaped string whose payload the session can read (sub), verified by the fake issuer. */
const fakeJwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
export const idOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).n as string;

/** A fake issuer with Dex's rotation: each refresh token works once. */
function rig(opts: { ttl?: number } = {}) {
  let clock = Date.UTC(2026, 10, 28, 12);
  const ttl = opts.ttl ?? 3600;
  let serial = 0;
  const valid = new Set<string>();
  const counts = { refresh: 0, login: 0, reused: 0, verify: 0 };
  const knobs = { sub: 'alice', verifyFails: undefined as OidcError | undefined, omitIdToken: false, rejectAnswer: undefined as OidcError | undefined };
  const minted = new Map<string, { iat: number; exp: number; sub: string }>();
  const mint = () => {
    serial++;
    const iat = Math.floor(clock / 1000);
    const idToken = fakeJwt({ n: `id-${serial}`, sub: knobs.sub, iss: 'https://issuer' });
    minted.set(idToken, { iat, exp: iat + ttl, sub: knobs.sub });
    return idToken;
  };
  const issue = (): TokenSet => {
    const idToken = mint();
    const rt = `rt-${serial}`;
    valid.add(rt);
    const m = minted.get(idToken)!;
    return { idToken, refreshToken: rt, issuedAt: m.iat, expiresAt: m.exp };
  };
  const oidc: RefreshIssuer = {
    async refreshGrant(refreshToken): Promise<GrantResponse> {
      counts.refresh++;
      await new Promise((r) => setTimeout(r, 5));
      if (!valid.delete(refreshToken)) {
        counts.reused++;
        throw new OidcError('E_REFRESH_REJECTED', 'claimed twice');
      }
      const t = issue();
      if (knobs.rejectAnswer) return { refreshToken: t.refreshToken!, rejected: knobs.rejectAnswer };
      return knobs.omitIdToken ? { refreshToken: t.refreshToken! } : { idToken: t.idToken, refreshToken: t.refreshToken! };
    },
    async verify(idToken) {
      counts.verify++;
      if (knobs.verifyFails) throw knobs.verifyFails;
      const m = minted.get(idToken);
      if (!m) throw new OidcError('E_ID_TOKEN_INVALID', 'unknown token');
      return { claims: { sub: m.sub, iss: 'https://issuer' }, expiresAt: m.exp, issuedAt: m.iat };
    },
  };
  const store = createMemoryStore();
  let held: Promise<void> = Promise.resolve();
  let loginImpl: SessionDeps['login'] = async (_req, show) => {
    counts.login++;
    show('open https://issuer/login');
    await new Promise((r) => setTimeout(r, 10));
    return issue();
  };
  const deps: SessionDeps = {
    key: 'k',
    store,
    issuer: oidc,
    login: (req, show, signal) => loginImpl(req, show, signal),
    lock: async () => {
      const prev = held;
      let release!: () => void;
      held = new Promise((r) => (release = r));
      await prev;
      return async () => release();
    },
    now: () => clock,
    log: silentLogger,
    loginTimeoutMs: () => 1000,
  };
  return {
    deps, store, counts, valid, knobs, oidc,
    advance: (sec: number) => (clock += sec * 1000),
    setLogin: (f: SessionDeps['login']) => (loginImpl = f),
    ctx: (interactive = true, more: Partial<TokenContext> = {}): TokenContext => ({ interactive, forceRefresh: false, caller: { notify: () => {}, prompt: async () => null }, ui, env: {}, ...more }),
  };
}

test('margin: a quarter of the lifetime, at most five minutes', () => {
  assert.equal(refreshMargin({ idToken: '', issuedAt: 0, expiresAt: 86400 }), 300);
  assert.equal(refreshMargin({ idToken: '', issuedAt: 0, expiresAt: 20 }), 5);
  assert.equal(isFresh({ idToken: '', issuedAt: 0, expiresAt: 20 }, 14), true);
  assert.equal(isFresh({ idToken: '', issuedAt: 0, expiresAt: 20 }, 15), false);
});

test('no session: one login for many concurrent callers, all get the same token and the URL', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const seen: string[] = [];
  const results = await Promise.all(Array.from({ length: 20 }, () => s.getToken(r.ctx(true, { caller: { notify: (m: string) => seen.push(m), prompt: async () => null } }))));
  assert.equal(r.counts.login, 1);
  assert.equal(new Set(results.map((t) => t.idToken)).size, 1);
  assert.equal(seen.length, 20, 'every waiting caller is shown the login URL');
});

test('fresh token is served from memory; then from the store in a new session', async () => {
  const r = rig();
  const t1 = await new Session(r.deps).getToken(r.ctx());
  const s2 = new Session(r.deps);
  const t2 = await s2.getToken(r.ctx());
  assert.equal(t2.idToken, t1.idToken);
  assert.equal(r.counts.login, 1);
  assert.equal(r.counts.refresh, 0);
});

test('expired token: 200 concurrent callers cause exactly one refresh (rotation survives)', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.advance(3600 - 100); // inside the margin
  const results = await Promise.all(Array.from({ length: 200 }, () => s.getToken(r.ctx(false))));
  assert.equal(r.counts.refresh, 1);
  assert.equal(r.counts.reused, 0);
  assert.equal(new Set(results.map((t) => t.idToken)).size, 1);
  assert.equal((await r.store.load('k'))?.idToken, results[0]!.idToken, 'the refreshed tokens are saved');
});

test('two sessions (two processes) on one store: the second adopts the first one\'s refresh instead of reusing the rotated token', async () => {
  const r = rig();
  const a = new Session(r.deps);
  await a.getToken(r.ctx());
  const b = new Session(r.deps);
  await b.getToken(r.ctx()); // loads the same tokens
  r.advance(3600);
  const ta = await a.getToken(r.ctx());
  const tb = await b.getToken(r.ctx());
  assert.equal(r.counts.refresh, 1);
  assert.equal(r.counts.reused, 0);
  assert.equal(tb.idToken, ta.idToken);
});

test('a rejected refresh token ends the session and a new login follows', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.valid.clear(); // the issuer revoked the grant
  r.advance(4000);
  const t = await s.getToken(r.ctx());
  assert.equal(r.counts.login, 2);
  assert.equal(idOf(t.idToken), 'id-2');
});

test('refresh fails on the network but the token has not expired: it is still served', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  r.oidc.refreshGrant = async () => {
    throw new OidcError('E_ISSUER_UNREACHABLE', 'down');
  };
  r.advance(3600 - 60);
  assert.equal((await s.getToken(r.ctx())).idToken, t0.idToken);
  r.advance(120);
  await assert.rejects(s.getToken(r.ctx()), (e) => isOidcError(e, 'E_ISSUER_UNREACHABLE'));
});

test('after a failed login, non-interactive callers get "login required" fast, interactive ones may retry', async () => {
  const r = rig();
  let attempts = 0;
  r.setLogin(async (_req, show) => {
    attempts++;
    show('open https://issuer/login');
    throw new OidcError('E_LOGIN_TIMEOUT', 'nobody logged in');
  });
  const s = new Session(r.deps);
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_LOGIN_TIMEOUT'));
  for (let i = 0; i < 50; i++) await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_LOGIN_REQUIRED'));
  assert.equal(attempts, 1, 'no browser for non-interactive callers during the cool-down');
  await assert.rejects(s.getToken(r.ctx(true)), (e) => isOidcError(e, 'E_LOGIN_TIMEOUT'));
  assert.equal(attempts, 2);
  r.advance(LOGIN_COOLDOWN_MS / 1000 + 1);
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_LOGIN_TIMEOUT'));
  assert.equal(attempts, 3, 'after the cool-down a non-interactive caller may start a login again');
});

test('refresh without a new ID token keeps the rotated refresh token; a stale ID token leads to a login', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.knobs.omitIdToken = true;
  r.advance(3600);
  const t = await s.getToken(r.ctx());
  assert.equal(r.counts.login, 2);
  assert.equal(r.counts.refresh, 1);
  assert.notEqual(t.refreshToken, undefined);
});

test('force refresh refreshes a fresh token', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  const t1 = await s.getToken(r.ctx(false, { forceRefresh: true }));
  assert.equal(r.counts.refresh, 1);
  assert.notEqual(t1.idToken, t0.idToken);
});

test('forget clears memory and store', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  await s.forget();
  assert.equal(await r.store.load('k'), undefined);
  await s.getToken(r.ctx());
  assert.equal(r.counts.login, 2);
});

test('a login that failed before any browser opened (issuer down) sets no cool-down', async () => {
  const r = rig();
  let attempts = 0;
  r.setLogin(async () => {
    attempts++;
    throw new OidcError('E_ISSUER_UNREACHABLE', 'down');
  });
  const s = new Session(r.deps);
  for (let i = 0; i < 3; i++) await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_ISSUER_UNREACHABLE'));
  assert.equal(attempts, 3);
});

// ---- "One session, one identity" (issue 7) regressions -------------------------------------

test('a key-set outage after a refresh grant keeps the rotated refresh token; the next try uses it, never the spent one', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.advance(3600 + 10); // expired: nothing to fall back on
  r.knobs.verifyFails = new OidcError('E_ISSUER_UNAVAILABLE', "the issuer's keys could not be fetched: HTTP 503");
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_ISSUER_UNAVAILABLE'));
  assert.equal(r.counts.refresh, 1);
  assert.equal((await r.store.load('k'))?.refreshToken, 'rt-2', 'the rotated refresh token was saved before verification');
  r.knobs.verifyFails = undefined;
  const t = await s.getToken(r.ctx(false));
  assert.equal(r.counts.reused, 0, 'the spent refresh token was never presented again');
  assert.equal(r.counts.login, 1, 'no new login');
  assert.equal(idOf(t.idToken), 'id-3');
  // And in a new process (a new agent) reading only the store:
  r.advance(3600 + 10);
  r.knobs.verifyFails = new OidcError('E_ISSUER_UNREACHABLE', 'down');
  await assert.rejects(new Session(r.deps).getToken(r.ctx(false)));
  r.knobs.verifyFails = undefined;
  await new Session(r.deps).getToken(r.ctx(false));
  assert.equal(r.counts.reused, 0);
  assert.equal(r.counts.login, 1);
});

test('a refreshed ID token for another subject is refused: not served, session ended, next interactive call logs in', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  r.advance(3600 - 60);
  r.knobs.sub = 'mallory';
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_ID_TOKEN_INVALID') && /another user/.test((e as Error).message));
  assert.equal(s.peek(), undefined, 'the session holds nothing');
  assert.equal(await r.store.load('k'), undefined, 'nothing of it is stored');
  r.knobs.sub = 'alice';
  const t1 = await s.getToken(r.ctx(true));
  assert.equal(r.counts.login, 2);
  assert.notEqual(t1.idToken, t0.idToken);
});

test('an issuer whose refresh never carries an ID token: one refresh grant, then logins only', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.knobs.omitIdToken = true;
  for (let i = 0; i < 3; i++) {
    r.advance(3600 + 10);
    await s.getToken(r.ctx());
  }
  assert.equal(r.counts.refresh, 1, 'after the first answer without an ID token, no refresh grant is spent in vain');
  assert.equal(r.counts.login, 4);
});

test('each login uses the UI settings and environment of the caller that starts it; joiners share it', async () => {
  const r = rig();
  const seen: { browser: string | undefined; display: string | undefined }[] = [];
  r.setLogin(async (req, show) => {
    seen.push({ browser: req.ui.browserCommand, display: req.env.DISPLAY });
    show('open https://issuer/login');
    await new Promise((res) => setTimeout(res, 20));
    if (seen.length === 1) throw new OidcError('E_LOGIN_FAILED', 'denied');
    return { idToken: fakeJwt({ n: 'x', sub: 'alice' }), issuedAt: 0, expiresAt: Math.floor(Date.UTC(2026, 10, 28, 13) / 1000) };
  });
  const s = new Session(r.deps);
  const first = s.getToken(r.ctx(true, { ui: { ...ui, browserCommand: 'browser-a' }, env: { DISPLAY: ':1' } }));
  const joiner = s.getToken(r.ctx(true, { ui: { ...ui, browserCommand: 'browser-joiner' }, env: { DISPLAY: ':9' } }));
  await assert.rejects(first);
  await assert.rejects(joiner);
  await s.getToken(r.ctx(true, { ui: { ...ui, browserCommand: 'browser-b' }, env: { DISPLAY: ':2' } }));
  assert.deepEqual(seen, [{ browser: 'browser-a', display: ':1' }, { browser: 'browser-b', display: ':2' }]);
});

test('logout during a refresh: the refresh does not write the session back', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.advance(3600 - 60);
  const refreshing = s.refresh({});
  await s.forget();
  await refreshing.catch(() => {});
  assert.equal(await r.store.load('k'), undefined);
  assert.equal(s.peek(), undefined);
});

// ---- Issue 17 item 4: an exp read back from the store is bounded too -------------------------

test('a stored ID token whose exp is years ahead (written before exp was bounded) is not served: its refresh token gets a verified one', async () => {
  const r = rig();
  const t0 = await new Session(r.deps).getToken(r.ctx());
  await r.store.save('k', { ...t0, expiresAt: t0.issuedAt + 1000 * 86_400 });
  const t = await new Session(r.deps).getToken(r.ctx(false));
  assert.notEqual(t.idToken, t0.idToken, 'the stored token is not served');
  assert.equal(r.counts.refresh, 1);
  assert.equal(r.counts.login, 1, 'no new login');
  assert.equal(t.expiresAt, t.issuedAt + 3600);
});

// ---- Issue 17 item 5: the rotated refresh token survives every verification failure -----------

test('a refreshed ID token rejected while the current one is valid: the rotated refresh token is kept, the current token served, the next refresh uses the new one', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  r.advance(3600 - 200); // inside the refresh margin, not expired
  r.knobs.verifyFails = new OidcError('E_ID_TOKEN_INVALID', "the issuer's ID token was rejected: its audience (aud) does not contain the client ID");
  const t1 = await s.getToken(r.ctx(false));
  assert.equal(t1.idToken, t0.idToken, 'the rejected token is not served; the current one is');
  assert.equal(r.counts.refresh, 1);
  assert.equal((await r.store.load('k'))?.refreshToken, 'rt-2', 'the rotated refresh token was saved');
  assert.equal((await r.store.load('k'))?.idToken, t0.idToken);
  r.knobs.verifyFails = undefined;
  const t2 = await new Session(r.deps).getToken(r.ctx(false)); // a new agent, from the store alone
  assert.equal(idOf(t2.idToken), 'id-3');
  assert.equal(r.counts.reused, 0, 'the spent refresh token was never presented again');
  assert.equal(r.counts.login, 1, 'no new login');
});

test('a refreshed ID token rejected after the current one expired: the session ends (no loop of refresh grants), and the spent refresh token is never presented', async () => {
  const r = rig();
  const s = new Session(r.deps);
  await s.getToken(r.ctx());
  r.advance(3600 + 10);
  r.knobs.verifyFails = new OidcError('E_ID_TOKEN_INVALID', "the issuer's ID token was rejected: its exp is 11574 days ahead");
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_ID_TOKEN_INVALID'));
  assert.equal(await r.store.load('k'), undefined, 'the session ended');
  r.knobs.verifyFails = undefined;
  await s.getToken(r.ctx(true));
  assert.deepEqual({ refresh: r.counts.refresh, reused: r.counts.reused, login: r.counts.login }, { refresh: 1, reused: 0, login: 2 });
});

test('a refresh answer the issuer client refused (malformed) still yields its rotated refresh token: saved, the error said, the next refresh uses it', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  r.advance(3600 + 10); // expired: the error reaches the caller
  r.knobs.rejectAnswer = new OidcError('E_ISSUER_RESPONSE', "the issuer's answer to refresh is not usable: unsupported `token_type` value");
  await assert.rejects(s.getToken(r.ctx(false)), (e) => isOidcError(e, 'E_ISSUER_RESPONSE'));
  assert.equal((await r.store.load('k'))?.refreshToken, 'rt-2');
  assert.equal((await r.store.load('k'))?.idToken, t0.idToken, 'nothing else of the refused answer is kept');
  r.knobs.rejectAnswer = undefined;
  const t = await s.getToken(r.ctx(false));
  assert.equal(idOf(t.idToken), 'id-3');
  assert.deepEqual({ reused: r.counts.reused, login: r.counts.login }, { reused: 0, login: 1 });
});
