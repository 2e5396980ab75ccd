import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRegistry } from '../../lib/agent/registry.js';
import { createMemoryStore } from '../../lib/store/file.js';
import { silentLogger } from '../../lib/log.js';
import type { Oidc } from '../../lib/oidc/client.js';
import type { GetTokenOptions } from '../../lib/options.js';

function setup() {
  const counts = { stores: 0, oidcs: 0, logins: 0, presented: 0 };
  const store = createMemoryStore();
  const registry = createRegistry({
    log: silentLogger,
    openStore: async () => {
      counts.stores++;
      await new Promise((r) => setTimeout(r, 20)); // a slow keyring probe widens the race
      return { store, notice: 'kubectl-oidc: keeping tokens somewhere' };
    },
    createOidc: () => {
      counts.oidcs++;
      const oidc: Oidc = {
            async loginAuthCode(opts) {
          counts.logins++;
          await opts.present('https://issuer.example/auth?x');
          const now = Math.floor(Date.now() / 1000);
          return { idToken: `id-${counts.logins}`, refreshToken: 'r', issuedAt: now, expiresAt: now + 3600 };
        },
        refresh: async () => assert.fail('no refresh expected'),
        close: async () => {},
      };
      return oidc;
    },
    openBrowser: async () => {
      counts.presented++;
    },
  });
  const options: GetTokenOptions = {
    issuerUrl: 'https://issuer.example/dex', clientId: 'c', extraScopes: [], certificateAuthority: [], certificateAuthorityData: [],
    listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 30, tokenCacheStorage: 'auto', forceRefresh: false,
    tokenCacheDir: mkdtempSync(join(tmpdir(), 'ko-reg-')),
  };
  return { registry, counts, options };
}

test('concurrent first requests share one session, one store, one login, one browser; the store notice is said once', async () => {
  const { registry, counts, options } = setup();
  const notices: string[] = [];
  const tokens = await Promise.all(
    Array.from({ length: 20 }, () => registry.getToken({ options, interactive: false, env: {}, notify: (m) => notices.push(m) })),
  );
  assert.equal(new Set(tokens.map((t) => t.idToken)).size, 1);
  assert.deepEqual({ stores: counts.stores, oidcs: counts.oidcs, logins: counts.logins, presented: counts.presented }, { stores: 1, oidcs: 1, logins: 1, presented: 1 });
  assert.equal(notices.filter((n) => n.includes('keeping tokens')).length, 1);
  assert.equal(notices.filter((n) => n.includes('https://issuer.example/auth')).length, 20, 'every waiting caller sees the URL');
  assert.equal(registry.status().length, 1);
  assert.doesNotMatch(JSON.stringify(registry.status()), /id-1/, 'status carries no token');
  await registry.close();
});

test('a different scope set is a different session', async () => {
  const { registry, counts, options } = setup();
  await registry.getToken({ options, interactive: true, env: {}, notify: () => {} });
  await registry.getToken({ options: { ...options, extraScopes: ['email'] }, interactive: true, env: {}, notify: () => {} });
  assert.equal(counts.logins, 2);
  assert.equal(registry.status().length, 2);
  await registry.close();
});

test('a CA file that changes in place is a different session (the fast path notices)', async () => {
  const { createTestCA } = await import('../rig/ca.js');
  const { copyFileSync } = await import('node:fs');
  const { registry, counts, options } = setup();
  const dir = options.tokenCacheDir!;
  const [a, b] = [await createTestCA(dir), await createTestCA(dir)];
  const caPath = join(dir, 'issuer-ca.pem');
  copyFileSync(a.caFile, caPath);
  const withCa = { ...options, certificateAuthority: [caPath] };
  const call = () => registry.getToken({ options: withCa, interactive: true, env: {}, notify: () => {} });
  await call();
  await call();
  assert.equal(counts.logins, 1, 'same CA: same session');
  copyFileSync(b.caFile, caPath);
  await call();
  assert.equal(counts.logins, 2, 'new CA: new session');
  assert.equal(registry.status().length, 2);
  await registry.close();
});
