import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session, isFresh, refreshMargin, LOGIN_COOLDOWN_MS, type SessionDeps } from '../../lib/agent/session.js';
import { createMemoryStore } from '../../lib/store/file.js';
import { OidcError, isOidcError } from '../../lib/errors.js';
import { silentLogger } from '../../lib/log.js';
import type { TokenSet } from '../../lib/store/types.js';
import type { Oidc } from '../../lib/oidc/client.js';

/** A fake issuer with Dex's rotation: each refresh token works once. */
function rig(opts: { ttl?: number } = {}) {
  let clock = Date.UTC(2026, 10, 28, 12);
  const ttl = opts.ttl ?? 3600;
  let serial = 0;
  const valid = new Set<string>();
  const counts = { refresh: 0, login: 0, reused: 0 };
  const issue = (): TokenSet => {
    serial++;
    const rt = `rt-${serial}`;
    valid.add(rt);
    const iat = Math.floor(clock / 1000);
    return { idToken: `id-${serial}`, refreshToken: rt, issuedAt: iat, expiresAt: iat + ttl };
  };
  const oidc: Oidc = {
    loginAuthCode: async () => issue(),
    async refresh(current) {
      counts.refresh++;
      await new Promise((r) => setTimeout(r, 5));
      if (!current.refreshToken || !valid.delete(current.refreshToken)) {
        counts.reused++;
        throw new OidcError('E_REFRESH_REJECTED', 'claimed twice');
      }
      return issue();
    },
    close: async () => {},
  };
  const store = createMemoryStore();
  let held: Promise<void> = Promise.resolve();
  let loginImpl: SessionDeps['login'] = async (show) => {
    counts.login++;
    show('open https://issuer/login');
    await new Promise((r) => setTimeout(r, 10));
    return issue();
  };
  const deps: SessionDeps = {
    key: 'k',
    store,
    oidc,
    login: (show, signal) => loginImpl(show, signal),
    lock: async () => {
      const prev = held;
      let release!: () => void;
      held = new Promise((r) => (release = r));
      await prev;
      return async () => release();
    },
    now: () => clock,
    log: silentLogger,
    loginTimeoutMs: 1000,
  };
  return {
    deps, store, counts, valid,
    advance: (sec: number) => (clock += sec * 1000),
    setLogin: (f: SessionDeps['login']) => (loginImpl = f),
    ctx: (interactive = true) => ({ interactive, forceRefresh: false, notify: () => {} }),
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
  const results = await Promise.all(Array.from({ length: 20 }, () => s.getToken({ interactive: true, forceRefresh: false, notify: (m) => seen.push(m) })));
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
  assert.equal(t.idToken, 'id-2');
});

test('refresh fails on the network but the token has not expired: it is still served', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  r.deps.oidc.refresh = async () => {
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
  r.setLogin(async (show) => {
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
  r.deps.oidc.refresh = async (cur) => ({ ...cur, refreshToken: 'rt-new' });
  r.advance(3600);
  const t = await s.getToken(r.ctx());
  assert.equal(r.counts.login, 2);
  assert.notEqual(t.refreshToken, undefined);
});

test('force refresh refreshes a fresh token', async () => {
  const r = rig();
  const s = new Session(r.deps);
  const t0 = await s.getToken(r.ctx());
  const t1 = await s.getToken({ interactive: false, forceRefresh: true, notify: () => {} });
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
