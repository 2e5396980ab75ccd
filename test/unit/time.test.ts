/**
 * Issue 17 item 4: time values from the issuer and from token files are bounded, and so is every
 * timer. An ID token living past setTimeout's 2^31-1 ms (24.8 days) made the background refresh
 * fire after 1 ms: five get-token calls cost ten refresh grants.
 */
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../lib/agent/registry.js';
import { createMemoryStore } from '../../lib/store/file.js';
import { parseTokenSet } from '../../lib/store/types.js';
import { silentLogger } from '../../lib/log.js';
import { MAX_TIMER_MS, timerDelay } from '../../lib/time.js';
import type { IssuerClient } from '../../lib/oidc/issuer.js';
import type { TokenFlags } from '../../lib/flags/table.js';

process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'ko-time-cache-'));

const jwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
const DAY = 86_400;

/** An agent's registry (background refresh on) whose issuer mints ID tokens living `ttlSec`. */
function agentWith(ttlSec: number) {
  let clock = Date.UTC(2026, 11, 5, 12);
  const counts = { refresh: 0, login: 0 };
  let serial = 0;
  const mint = () => {
    const iat = Math.floor(clock / 1000);
    return { idToken: jwt({ sub: 'alice', n: ++serial }), iat, exp: iat + ttlSec };
  };
  const minted = new Map<string, { iat: number; exp: number }>();
  const issuer = (url: string): IssuerClient => ({
    issuerUrl: url,
    insecure: false,
    authorizationUrl: async () => assert.fail('no login URL expected'),
    capabilities: async () => ({ callbackIss: false, pkceS256: true, deviceCode: false }),
    deviceAuthorization: async () => assert.fail('no device flow expected'),
    pollDevice: async () => assert.fail('no device flow expected'),
    passwordGrant: async () => assert.fail('no password grant expected'),
    clientCredentialsGrant: async () => assert.fail('no client-credentials grant expected'),
    exchangeCode: async () => assert.fail('no code exchange expected'),
    refreshGrant: async () => {
      counts.refresh++;
      const m = mint();
      minted.set(m.idToken, m);
      return { idToken: m.idToken, refreshToken: `rt-${serial}` };
    },
    verify: async (t) => {
      const m = minted.get(t)!;
      return { claims: { sub: 'alice' }, expiresAt: m.exp, issuedAt: m.iat };
    },
    revoke: async () => 'unsupported',
    close: async () => {},
  });
  const store = createMemoryStore();
  const registry = createRegistry({
    log: silentLogger,
    now: () => clock,
    lockDir: mkdtempSync(join(tmpdir(), 'ko-time-')),
    background: true,
    idleMs: 400 * DAY * 1000,
    openStore: async () => ({ store }),
    createIssuer: (p) => issuer(p.issuerUrl),
    login: async () => {
      counts.login++;
      const m = mint();
      return { idToken: m.idToken, refreshToken: 'rt-0', issuedAt: m.iat, expiresAt: m.exp };
    },
  });
  const flags: TokenFlags = {
    provider: { issuerUrl: 'https://issuer.example/dex', clientId: 'c', extraScopes: [], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false },
    ui: { grantType: 'authcode', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 30, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob' },
    cache: { storage: 'none' },
    forceRefresh: false,
    useAccessToken: false,
    notices: [],
  };
  const get = () => registry.getToken({ flags, interactive: true, env: {}, caller: { notify: () => {}, prompt: async () => null } });
  return { registry, counts, get, advance: (ms: number) => (clock += ms), nowSec: () => Math.floor(clock / 1000) };
}

test('timerDelay: never negative, never NaN, never past 2^31-1 ms', () => {
  assert.equal(MAX_TIMER_MS, 2_147_483_647);
  assert.equal(timerDelay(-5), 0);
  assert.equal(timerDelay(1_000), 1_000);
  assert.equal(timerDelay(30 * DAY * 1000), MAX_TIMER_MS);
  assert.equal(timerDelay(Number.NaN), MAX_TIMER_MS);
  assert.equal(timerDelay(Number.POSITIVE_INFINITY), MAX_TIMER_MS);
});

test('a 30-day ID token: five get-token calls cost one login and no refresh grant (the timer does not overflow to 1 ms)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const a = agentWith(30 * DAY);
  try {
    const first = await a.get();
    for (let i = 0; i < 4; i++) assert.equal((await a.get()).idToken, first.idToken);
    // The overflowed timer fired after 1 ms: give it ten times that, and a turn for the warning.
    await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(a.counts, { login: 1, refresh: 0 });
    assert.ok(!warnings.includes('TimeoutOverflowWarning'), `warnings: ${warnings.join(', ')}`);
    const [s] = await a.registry.status();
    assert.equal(s?.nextRefreshAt, first.expiresAt - 600, 'the refresh is planned ten minutes (twice the margin) before expiry');
  } finally {
    process.off('warning', onWarning);
    await a.registry.close();
  }
});

test('a 30-day ID token: the clamped timer fires early and plans again; the refresh comes at twice the margin before expiry', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  const a = agentWith(30 * DAY);
  try {
    const first = await a.get();
    // 24.8 days pass: the timer fires (clamped), finds the refresh not yet due, and waits again.
    a.advance(MAX_TIMER_MS);
    mock.timers.tick(MAX_TIMER_MS);
    await new Promise((r) => setImmediate(r));
    assert.equal(a.counts.refresh, 0, 'not refreshed 5 days early');
    const [s] = await a.registry.status();
    assert.equal(s?.nextRefreshAt, first.expiresAt - 600);
    // To the planned time: now it refreshes, once.
    const left = (first.expiresAt - 600) * 1000 - (Date.UTC(2026, 11, 5, 12) + MAX_TIMER_MS);
    a.advance(left);
    mock.timers.tick(left);
    // The refresh runs through real I/O (the store): wait for it, not for a fixed number of turns.
    for (const until = performance.now() + 10_000; a.counts.refresh === 0 && performance.now() < until; ) await new Promise((r) => setImmediate(r));
    assert.equal(a.counts.refresh, 1);
  } finally {
    mock.timers.reset();
    await a.registry.close();
  }
});

test('a token file with an exp no Date can hold is an expired ID token whose refresh token still works', () => {
  for (const expiresAt of [1e15, -1, 1e400]) {
    const t = parseTokenSet({ idToken: 'x', refreshToken: 'rt', expiresAt, issuedAt: 1 });
    assert.deepEqual(t, { idToken: 'x', refreshToken: 'rt', expiresAt: 0, issuedAt: 0 });
  }
  assert.equal(parseTokenSet({ idToken: 'x', expiresAt: 1_800_000_000, issuedAt: 1_799_990_000 })?.expiresAt, 1_800_000_000);
});
