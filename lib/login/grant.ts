import { OidcError } from '../errors.js';
import type { Call, GrantResponse, IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';

/** A login's grant, verified (with the login's nonce where it has one) and made into the session's tokens. */
export async function tokensOf(issuer: IssuerClient, grant: GrantResponse, nonce: string | undefined, call: Call, now: () => number = Date.now): Promise<TokenSet> {
  if (!grant.idToken) throw new OidcError('E_ISSUER_RESPONSE', 'the issuer returned no ID token', { hint: 'make sure the scope "openid" is allowed for this client' });
  const v = await issuer.verify(grant.idToken, nonce === undefined ? {} : { nonce }, call);
  return {
    idToken: grant.idToken,
    expiresAt: v.expiresAt,
    issuedAt: v.issuedAt,
    ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}),
    ...accessOf(grant, now() / 1000),
  };
}

/** The access token of a grant, kept for --oidc-use-access-token. */
export function accessOf(grant: GrantResponse, nowSec: number): Pick<TokenSet, 'accessToken' | 'accessExpiresAt'> {
  if (!grant.accessToken) return {};
  return { accessToken: grant.accessToken, ...(grant.expiresIn ? { accessExpiresAt: Math.floor(nowSec + grant.expiresIn) } : {}) };
}
