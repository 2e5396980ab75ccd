import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry, type CreateIssuer } from '../../lib/agent/registry.js';
import { createMemoryStore } from '../../lib/store/file.js';
import { silentLogger } from '../../lib/log.js';
import type { IssuerClient } from '../../lib/oidc/issuer.js';
import type { TokenFlags } from '../../lib/flags/table.js';

// status and logout list the default token-file dir: keep it out of the user's own.
process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'ko-reg-cache-'));

const jwt = (claims: Record<string, unknown>) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

function setup(opts: { maxSessions?: number; idleMs?: number; now?: () => number } = {}) {
  const counts = { stores: 0, issuers: 0, logins: 0, presented: 0, revoked: [] as string[] };
  const store = createMemoryStore();
  const dir = mkdtempSync(join(tmpdir(), 'ko-reg-'));
  const createIssuer: CreateIssuer = (provider) => {
    counts.issuers++;
    const issuer: IssuerClient = {
      issuerUrl: provider.issuerUrl,
      insecure: false,
      authorizationUrl: async () => 'https://issuer.example/auth?x',
      capabilities: async () => ({ callbackIss: false, pkceS256: true, deviceCode: false }),
      deviceAuthorization: async () => assert.fail('no device flow expected'),
      pollDevice: async () => assert.fail('no device flow expected'),
      passwordGrant: async () => assert.fail('no password grant expected'),
      clientCredentialsGrant: async () => assert.fail('no client-credentials grant expected'),
      exchangeCode: async () => assert.fail('no code exchange expected'),
      refreshGrant: async () => assert.fail('no refresh expected'),
      verify: async () => assert.fail('no verify expected'),
      revoke: async (rt) => {
        counts.revoked.push(rt);
        return 'revoked';
      },
      close: async () => {},
    };
    return issuer;
  };
  const registry = createRegistry({
    log: silentLogger,
    lockDir: dir,
    ...(opts.maxSessions ? { maxSessions: opts.maxSessions } : {}),
    ...(opts.idleMs ? { idleMs: opts.idleMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    openStore: async () => {
      counts.stores++;
      await new Promise((r) => setTimeout(r, 20)); // a slow keyring probe widens the race
      return { store, notice: 'kubectl-oidc: keeping tokens somewhere' };
    },
    createIssuer,
    login: async (_issuer, req, io) => {
      counts.logins++;
      io.show(`open https://issuer.example/auth (${req.ui.browserCommand ?? 'default browser'})`);
      await new Promise((r) => setTimeout(r, 5));
      const now = Math.floor(Date.now() / 1000);
      return { idToken: jwt({ sub: 'alice', n: counts.logins }), refreshToken: 'r', issuedAt: now, expiresAt: now + 3600 };
    },
  });
  const flags: TokenFlags = {
    provider: { issuerUrl: 'https://issuer.example/dex', clientId: 'c', extraScopes: [], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false },
    ui: { grantType: 'authcode', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 30, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob' },
    cache: { storage: 'file', dir },
    forceRefresh: false,
    useAccessToken: false,
    notices: [],
  };
  return { registry, counts, flags, dir, store };
}

/** Put a fresh session in the store so that getToken needs no login. */
async function seed(store: ReturnType<typeof createMemoryStore>, key: string, sub = 'alice') {
  const now = Math.floor(Date.now() / 1000);
  await store.save(key, { idToken: jwt({ sub, email: `${sub}@example.com`, groups: ['g'] }), refreshToken: 'r', issuedAt: now, expiresAt: now + 3600 });
}

test('a session is found by its identity, whatever the caller\'s proxy variables or UI settings', async () => {
  const { registry, counts, flags, store } = setup();
  const { sessionKey } = await import('../../lib/store/key.js');
  const key = sessionKey({ issuerUrl: flags.provider.issuerUrl, clientId: 'c', scopes: ['openid', 'offline_access'], caDigest: '' });
  await seed(store, key);
  const call = (env: Record<string, string>, ui = flags.ui) => registry.getToken({ flags: { ...flags, ui }, interactive: false, env, caller: { notify: () => {}, prompt: async () => null } });
  await Promise.all([call({}), call({ NO_PROXY: 'localhost' }), call({ HTTPS_PROXY: 'http://proxy:3128', no_proxy: '.corp' }), call({}, { ...flags.ui, browserCommand: 'firefox' })]);
  const status = await registry.status();
  assert.equal(status.length, 1, 'one session');
  assert.equal(status[0]!.key, key, 'keyed by the identity the store uses');
  assert.equal(counts.issuers, 1);
  assert.equal(counts.stores, 1);
  assert.equal(status[0]!.email, 'alice@example.com');
  assert.doesNotMatch(JSON.stringify(status), /h\.ey|"r"/, 'status carries no token');
  // Logout names the same session with no environment at all, and revokes its refresh token.
  const r = await registry.logout(flags.provider, flags.ui, { storage: 'none' }, {});
  assert.ok(r.cleared.includes('agent memory'));
  assert.deepEqual(counts.revoked, ['r']);
  assert.equal(r.revoked.length, 1);
  assert.equal((await registry.status()).length, 0);
  assert.equal(await store.load(key), undefined);
  await registry.close();
});

test('a different scope set is a different session; a CA file that changes in place too', async () => {
  const { createTestCA } = await import('../rig/ca.js');
  let clock = Date.now();
  const { registry, flags, dir } = setup({ now: () => clock });
  const [a, b] = [await createTestCA(dir), await createTestCA(dir)];
  const caPath = join(dir, 'issuer-ca.pem');
  copyFileSync(a.caFile, caPath);
  const provider = { ...flags.provider, caFiles: [caPath] };
  const keys = new Set<string>();
  const call = async (p = provider) => {
    await registry.getToken({ flags: { ...flags, provider: p, ui: flags.ui }, interactive: false, env: {}, caller: { notify: () => {}, prompt: async () => null } });
    for (const s of await registry.status()) keys.add(s.key);
  };
  await call();
  await call();
  assert.equal(keys.size, 1, 'same CA: same session');
  copyFileSync(b.caFile, caPath);
  clock += 1_100; // the agent looks at a CA file's identity at most once a second
  await call();
  assert.equal(keys.size, 2, 'new CA: new session');
  await call({ ...provider, extraScopes: ['email'] });
  assert.equal(keys.size, 3, 'other scopes: another session');
  await registry.close();
});

test('the registry is capped, and sessions unused for the idle time are dropped', async () => {
  let clock = Date.now();
  const { registry, flags } = setup({ maxSessions: 5, idleMs: 60_000, now: () => clock });
  for (let i = 0; i < 40; i++) {
    await registry
      .getToken({ flags: { ...flags, provider: { ...flags.provider, clientId: `c${i}` }, ui: flags.ui }, interactive: false, env: { NO_PROXY: `h${i}` }, caller: { notify: () => {}, prompt: async () => null } })
      ;
  }
  assert.ok(registry.size.sessions <= 5, `at most 5 sessions in memory (${registry.size.sessions})`);
  clock += 61_000;
  await registry.getToken({ flags: { ...flags, ui: flags.ui }, interactive: false, env: {}, caller: { notify: () => {}, prompt: async () => null } }).catch(() => {});
  assert.equal(registry.size.sessions, 1, 'the idle ones are gone');
  await registry.close();
});

test('concurrent first requests share one session, one store, one login; the store notice is said once; every caller sees the URL', async () => {
  const { registry, counts, flags } = setup();
  const notices: string[] = [];
  const tokens = await Promise.all(Array.from({ length: 20 }, () => registry.getToken({ flags, interactive: false, env: {}, caller: { notify: (m: string) => notices.push(m), prompt: async () => null } })));
  assert.equal(new Set(tokens.map((t) => t.idToken)).size, 1);
  assert.deepEqual({ stores: counts.stores, issuers: counts.issuers, logins: counts.logins }, { stores: 1, issuers: 1, logins: 1 });
  assert.equal(notices.filter((n) => n.includes('keeping tokens')).length, 1);
  assert.equal(notices.filter((n) => n.includes('https://issuer.example/auth')).length, 20);
  await registry.close();
});

test('every account its own session: login_hint, username and session name each pick another one; logout finds each', async () => {
  const { registry, counts, flags } = setup();
  const caller = { notify: () => {}, prompt: async () => null };
  const as = (ui: Partial<TokenFlags['ui']>, sessionName?: string): TokenFlags => ({
    ...flags,
    provider: { ...flags.provider, ...(sessionName ? { sessionName } : {}) },
    ui: { ...flags.ui, ...ui },
  });
  const people = [
    as({}),
    as({ authRequestExtraParams: { login_hint: 'bob@example.com' } }),
    as({ authRequestExtraParams: { login_hint: 'carol@example.com' } }),
    as({ authRequestExtraParams: { connector_id: 'ldap' } }),
    as({ username: 'dave', grantType: 'password' }),
    as({}, 'work'),
  ];
  const first = [];
  for (const f of people) first.push((await registry.getToken({ flags: f, interactive: true, env: {}, caller })).idToken);
  assert.equal(counts.logins, people.length, 'one login per account');
  assert.equal(new Set(first).size, people.length);
  // Again: each from its own session, in another order, with other UI settings that are not the account.
  for (const [i, f] of [...people.entries()].reverse()) {
    const t = await registry.getToken({ flags: { ...f, ui: { ...f.ui, browserCommand: 'firefox', password: 'pw' } }, interactive: false, env: {}, caller });
    assert.equal(t.idToken, first[i]);
  }
  assert.equal(counts.logins, people.length, 'no new login');
  const status = await registry.status();
  assert.equal(status.length, people.length);
  assert.deepEqual(status.filter((s) => s.sessionName).map((s) => s.sessionName), ['work']);
  assert.deepEqual(status.filter((s) => s.username).map((s) => s.username), ['dave']);

  const r = await registry.logout(people[1]!.provider, people[1]!.ui, { storage: 'none' }, {});
  assert.ok(r.cleared.includes('agent memory'));
  const named = await registry.logout(people[5]!.provider, people[5]!.ui, { storage: 'none' }, {});
  assert.ok(named.cleared.includes('agent memory'));
  const left = await registry.status();
  assert.equal(left.length, people.length - 2, 'only those two were logged out');
  assert.ok(!left.some((s) => s.sessionName === 'work'));
  await registry.close();
});

test('a caller naming another --token-cache-dir with the keyring: the one keyring item is kept, not rewritten and deleted', async () => {
  const { createRegistry } = await import('../../lib/agent/registry.js');
  const items = new Map<string, string>();
  const writes: string[] = [];
  // Every keyring-backed store reaches the same items, whatever its fallback dir.
  const keyringStore = () => ({
    kind: 'keyring' as const,
    load: async (k: string) => (items.has(k) ? JSON.parse(items.get(k)!) : undefined),
    save: async (k: string, t: unknown) => {
      writes.push(k);
      items.set(k, JSON.stringify(t));
    },
    delete: async (k: string) => void items.delete(k),
  });
  const dir = mkdtempSync(join(tmpdir(), 'ko-reg-kr-'));
  let logins = 0;
  const registry = createRegistry({
    log: silentLogger,
    lockDir: dir,
    openStore: async () => ({ store: keyringStore() }),
    createIssuer: () => ({ close: async () => {} }) as unknown as IssuerClient,
    login: async () => {
      logins++;
      const now = Math.floor(Date.now() / 1000);
      return { idToken: jwt({ sub: 'alice' }), refreshToken: 'r', issuedAt: now, expiresAt: now + 3600 };
    },
  });
  const { flags } = setup();
  const caller = { notify: () => {}, prompt: async () => null };
  const call = (d: string) => registry.getToken({ flags: { ...flags, cache: { storage: 'keyring', dir: d } }, interactive: true, env: {}, caller });
  await call(join(dir, 'a'));
  assert.equal(writes.length, 1);
  await call(join(dir, 'b'));
  await call(join(dir, 'a'));
  assert.equal(logins, 1);
  assert.equal(writes.length, 1, 'no rewrite of the unchanged item');
  assert.equal(items.size, 1, 'the session is still in the keyring');
  await registry.close();
});

test('status and logout --all see the token files the agent has not loaded; a file-only session is revoked at the issuer its ID token names', async () => {
  const { createFileStore } = await import('../../lib/store/file.js');
  const { registry, counts } = setup();
  const dir = mkdtempSync(join(tmpdir(), 'ko-reg-files-'));
  const files = createFileStore(dir);
  const now = Math.floor(Date.now() / 1000);
  const [named, nameless] = ['a'.repeat(64), 'b'.repeat(64)];
  await files.save(named, { idToken: jwt({ iss: 'https://other.example', aud: ['k8s', 'x'], sub: 'erin', email: 'erin@example.com' }), refreshToken: 'rt-erin', issuedAt: now, expiresAt: now + 600 });
  await files.save(nameless, { idToken: jwt({ sub: 'nobody' }), refreshToken: 'rt-nameless', issuedAt: now, expiresAt: now + 600 });
  const status = await registry.status([dir]);
  assert.deepEqual(
    status.map((s) => [s.key, s.issuerUrl, s.clientId, s.email ?? null, s.cacheDir, s.held]),
    [
      [named, 'https://other.example', 'k8s', 'erin@example.com', dir, false],
      [nameless, 'unknown', 'unknown', null, dir, false],
    ],
  );
  assert.equal((await registry.status()).length, 0, 'only the dirs asked for, and the default one');
  const r = await registry.logoutAll({ cacheDirs: [dir], caFiles: [], caData: [], env: {} });
  assert.deepEqual(counts.revoked, ['rt-erin']);
  assert.deepEqual(r.revoked, ['https://other.example']);
  assert.equal(r.notRevoked.length, 1);
  assert.match(r.notRevoked[0]!, /names no issuer or client/);
  assert.deepEqual(r.cleared, [`the token file ${named.slice(0, 12)} in ${dir}`, `the token file ${nameless.slice(0, 12)} in ${dir}`]);
  assert.equal(await files.load(named), undefined);
  assert.equal(await files.load(nameless), undefined);
  await registry.close();
});
