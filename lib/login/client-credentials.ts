import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import type { LoginRequest } from './authcode.js';
import { accessOf, tokensOf } from './grant.js';

/**
 * The client credentials grant (kubelogin's --grant-type=client-credentials): the client's own token,
 * with no person, browser or terminal. The ID token when the issuer returns one (verified, no nonce:
 * there was no authorization request); else only the access token, for --oidc-use-access-token. It
 * has no refresh token: the session renews it by asking again, as it would log in again.
 */
export async function loginWithClientCredentials(issuer: IssuerClient, req: LoginRequest, signal: AbortSignal, now: () => number = Date.now): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const grant = await issuer.clientCredentialsGrant(req.ui.authRequestExtraParams, call);
  if (grant.idToken) return tokensOf(issuer, grant, undefined, call, now);
  const access = accessOf(grant, now() / 1000);
  if (!access.accessToken) return tokensOf(issuer, grant, undefined, call, now); // neither: tokensOf says what is missing
  const nowSec = Math.floor(now() / 1000);
  // No ID token: the session's lifetime is the access token's (an hour when the issuer does not say).
  const expiresAt = access.accessExpiresAt ?? nowSec + 3600;
  return { idToken: '', expiresAt, issuedAt: nowSec, accessToken: access.accessToken, accessExpiresAt: expiresAt };
}
