import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createIssuerClient } from '../../lib/oidc/issuer.js';
import { isOidcError } from '../../lib/errors.js';
import type { Http, HttpFetch } from '../../lib/oidc/http.js';

const ISSUER = 'https://issuer.example/dex';
const discovery = {
  issuer: ISSUER,
  authorization_endpoint: `${ISSUER}/auth`,
  token_endpoint: `${ISSUER}/token`,
  jwks_uri: `${ISSUER}/keys`,
  response_types_supported: ['code'],
  subject_types_supported: ['public'],
  id_token_signing_alg_values_supported: ['RS256'],
};

/** An issuer client over a fake fetch: discovery answers, the token endpoint does what `token` says. */
function client(token: (init: { signal?: AbortSignal | undefined }) => Promise<Response>, meta: Record<string, unknown> = discovery) {
  const calls: string[] = [];
  const fetch: HttpFetch = async (url, init) => {
    calls.push(new URL(url).pathname);
    if (url.endsWith('/.well-known/openid-configuration')) return Response.json(meta);
    if (url.endsWith('/token')) return token(init);
    return new Response('not found', { status: 404 });
  };
  const http: Http = { fetch, close: async () => {} };
  const c = createIssuerClient({ issuerUrl: ISSUER, clientId: 'kubectl', extraScopes: [], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false }, { cas: [], now: Date.now, createHttp: () => http });
  return { c, calls };
}
// AbortSignal.timeout's timers do not keep the event loop alive (real sockets would): this does, for the tests' sake.
const keepAlive = setInterval(() => {}, 1_000);
test.after(() => clearInterval(keepAlive));

const call = (signal: AbortSignal = AbortSignal.timeout(5_000)) => ({ network: {}, signal });

for (const [name, res] of [
  ['400 with an empty body', () => new Response(null, { status: 400 })],
  ['401 with an empty body', () => new Response(null, { status: 401 })],
  ['400 with an HTML page', () => new Response('<html>bad</html>', { status: 400, headers: { 'content-type': 'text/html' } })],
  ['400 invalid_grant', () => Response.json({ error: 'invalid_grant' }, { status: 400 })],
] as const) {
  test(`a refresh refused with ${name} is E_REFRESH_REJECTED (log in again), not a broken issuer`, async () => {
    const { c } = client(async () => res());
    await assert.rejects(c.refreshGrant('rt', call()), (e) => isOidcError(e, 'E_REFRESH_REJECTED') && /refused the refresh token/.test((e as Error).message));
  });
}

test('a 503 from the token endpoint is transient (E_ISSUER_UNAVAILABLE): the refresh token is not given up', async () => {
  const { c } = client(async () => new Response('busy', { status: 503 }));
  await assert.rejects(c.refreshGrant('rt', call()), (e) => isOidcError(e, 'E_ISSUER_UNAVAILABLE'));
});

test("the caller's signal bounds the refresh grant", async () => {
  const { c } = client(
    (init) =>
      new Promise<Response>((_resolve, reject) => {
        // An issuer that never answers: only the signal can end this.
        init.signal?.addEventListener('abort', () => reject(init.signal!.reason), { once: true });
      }),
  );
  const started = Date.now();
  await assert.rejects(c.refreshGrant('rt', call(AbortSignal.timeout(200))));
  assert.ok(Date.now() - started < 3_000, `bounded by the caller's 200 ms signal (took ${Date.now() - started} ms)`);
});

test('a plain-http token endpoint or jwks_uri of an https issuer is refused before any credential is sent', async () => {
  const { c, calls } = client(async () => Response.json({}), { ...discovery, token_endpoint: 'http://issuer.example/dex/token' });
  await assert.rejects(c.refreshGrant('rt', call()), (e) => isOidcError(e, 'E_ISSUER_RESPONSE') && /token_endpoint is not https/.test((e as Error).message));
  assert.ok(!calls.includes('/dex/token'));
});

test("callers with different NODE_EXTRA_CA_CERTS get different HTTP clients (each its own trust); the same one is reused", async () => {
  const made: Record<string, string>[] = [];
  const fetch: HttpFetch = async (url) => (url.endsWith('/.well-known/openid-configuration') ? Response.json(discovery) : Response.json({ error: 'invalid_grant' }, { status: 400 }));
  const c = createIssuerClient(
    { issuerUrl: ISSUER, clientId: 'kubectl', extraScopes: [], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false },
    {
      cas: [],
      now: Date.now,
      createHttp: (opts) => {
        made.push({ ...(opts.network as Record<string, string>) });
        return { fetch, close: async () => {} };
      },
    },
  );
  const refresh = (network: Record<string, string>) => c.refreshGrant('rt', { network, signal: AbortSignal.timeout(5_000) }).catch(() => {});
  await refresh({ NODE_EXTRA_CA_CERTS: '/etc/corp-a.pem' });
  await refresh({ NODE_EXTRA_CA_CERTS: '/etc/corp-b.pem' });
  await refresh({ NODE_EXTRA_CA_CERTS: '/etc/corp-a.pem', BROWSER: 'firefox' });
  assert.deepEqual(
    made.map((n) => n.NODE_EXTRA_CA_CERTS),
    ['/etc/corp-a.pem', '/etc/corp-b.pem'],
  );
});
