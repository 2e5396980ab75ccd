import type { ProviderConfig } from '../flags/table.js';
import type { IssuerClient } from '../oidc/issuer.js';

/** How the registry and logout get an issuer client; tests pass a fake. */
export type CreateIssuer = (provider: ProviderConfig, cas: readonly string[]) => IssuerClient;

/**
 * The OIDC stack (openid-client, jose, undici) is most of the agent's start-up time and a cached
 * token needs none of it: load it on the first login or refresh (a bundle of its own, dist/oidc.cjs).
 */
export function lazyIssuer(provider: ProviderConfig, cas: readonly string[], now: () => number): IssuerClient {
  let real: Promise<IssuerClient> | undefined;
  const get = () => (real ??= import('../oidc/issuer.js').then((m) => m.createIssuerClient(provider, { cas, now })));
  return {
    issuerUrl: provider.issuerUrl,
    insecure: provider.insecureSkipTlsVerify,
    authorizationUrl: async (p, c) => (await get()).authorizationUrl(p, c),
    capabilities: async (c) => (await get()).capabilities(c),
    deviceAuthorization: async (c) => (await get()).deviceAuthorization(c),
    pollDevice: async (d, c) => (await get()).pollDevice(d, c),
    passwordGrant: async (u, p, c) => (await get()).passwordGrant(u, p, c),
    clientCredentialsGrant: async (e, c) => (await get()).clientCredentialsGrant(e, c),
    exchangeCode: async (p, c) => (await get()).exchangeCode(p, c),
    refreshGrant: async (rt, c) => (await get()).refreshGrant(rt, c),
    verify: async (t, o, c) => (await get()).verify(t, o, c),
    revoke: async (rt, c) => (await get()).revoke(rt, c),
    close: async () => {
      if (real) await (await real).close();
    },
  };
}
