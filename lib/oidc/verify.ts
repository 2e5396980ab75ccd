import { createRemoteJWKSet, customFetch, jwtVerify, type JWTVerifyGetKey, type JWTPayload } from 'jose';
import { OidcError, isOidcError } from '../errors.js';
import type { HttpFetch } from './http.js';

/** Asymmetric algorithms only: never `none`, never HMAC (an HS256 token "signed" with the public key must fail). */
export const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface VerifiedIdToken {
  claims: JWTPayload & Record<string, unknown>;
  expiresAt: number;
  issuedAt: number;
}

export interface VerifyOptions {
  issuer: string;
  clientId: string;
  /** Required on login; absent on refresh (Dex and others omit it there). */
  nonce?: string;
  now: Date;
}

/** The issuer's keys, fetched through the same CA and proxy as everything else. */
export function remoteKeys(jwksUri: string, fetch: HttpFetch): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(jwksUri), {
    [customFetch]: (url, init) => fetch(url, init),
    timeoutDuration: 10_000,
    cooldownDuration: 30_000,
  });
}

export async function verifyIdToken(idToken: string, keys: JWTVerifyGetKey, opts: VerifyOptions): Promise<VerifiedIdToken> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, {
      issuer: opts.issuer,
      audience: opts.clientId,
      algorithms: ALLOWED_ALGORITHMS,
      requiredClaims: ['exp', 'sub'],
      currentDate: opts.now,
      clockTolerance: 5,
    }));
  } catch (err) {
    throw idTokenError(err);
  }
  if (opts.nonce !== undefined && payload.nonce !== opts.nonce) {
    throw new OidcError('E_ID_TOKEN_INVALID', 'the ID token does not carry the nonce of this login (a replayed or foreign token)');
  }
  const expiresAt = payload.exp as number;
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : Math.floor(opts.now.getTime() / 1000);
  return { claims: payload as VerifiedIdToken['claims'], expiresAt, issuedAt };
}

function idTokenError(err: unknown): OidcError {
  // A JWKS fetch failure surfaces here: keep its own (network/TLS) classification.
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if (isOidcError(e)) return e;
  const code = (err as { code?: unknown }).code;
  const claim = (err as { claim?: unknown }).claim;
  const why = (() => {
    switch (code) {
      case 'ERR_JWT_EXPIRED':
        return 'it has expired';
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
        return claim === 'iss' ? 'its issuer (iss) is not the configured issuer URL'
          : claim === 'aud' ? 'its audience (aud) does not contain the client ID'
          : `its ${String(claim)} claim is not valid`;
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
        return 'it is signed with an algorithm that is not allowed';
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return "no key in the issuer's JWKS matches it";
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return "several keys in the issuer's JWKS match it";
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return 'its signature does not verify';
      case 'ERR_JWKS_INVALID':
        return "the issuer's JWKS is not valid";
      case 'ERR_JWKS_TIMEOUT':
        return "the issuer's JWKS did not arrive in time";
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return 'it is malformed or unsigned';
      default:
        return `it failed verification (${typeof code === 'string' ? code : 'unknown reason'})`;
    }
  })();
  return new OidcError('E_ID_TOKEN_INVALID', `the issuer's ID token was rejected: ${why}`, { cause: err });
}
