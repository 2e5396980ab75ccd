import { jwtVerify, type JWTVerifyGetKey, type JWTPayload, type JWTVerifyOptions, type KeyObject } from 'jose';
import { OidcError, oidcCause } from '../errors.js';
import { MAX_ID_TOKEN_LIFETIME_SEC, isEpochSeconds } from '../time.js';

export { MAX_ID_TOKEN_LIFETIME_SEC };

/** How far in the future an ID token's `iat` may be (the issuer's clock ahead of ours); documented in README.md. */
export const IAT_SKEW_SEC = 5 * 60;

/** Asymmetric algorithms only: never `none`, never HMAC (an HS256 token "signed" with the public key must fail). */
const ALLOWED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export interface VerifiedIdToken {
  claims: JWTPayload & Record<string, unknown>;
  expiresAt: number;
  issuedAt: number;
}

export interface VerifyOptions {
  issuer: string;
  /** The audiences a token must be for: the client ID, or X of Dex's `audience:server:client_id:X` scope. */
  audiences: string[];
  /** Our client ID: with several audiences, `azp` must name it (OpenID Connect Core §3.1.3.7). */
  clientId: string;
  /** Required on login; absent on refresh (Dex and others omit it there). */
  nonce?: string;
  now: Date;
}

export async function verifyIdToken(idToken: string, keys: JWTVerifyGetKey, opts: VerifyOptions): Promise<VerifiedIdToken> {
  const checks: JWTVerifyOptions = {
    issuer: opts.issuer,
    audience: opts.audiences,
    algorithms: ALLOWED_ALGORITHMS,
    requiredClaims: ['exp', 'sub'],
    currentDate: opts.now,
    clockTolerance: 5,
  };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, keys, checks));
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw idTokenError(err);
    // A token without `kid` while the issuer publishes two keys of its type (rotation): try each.
    payload = await verifyWithCandidates(idToken, err as AsyncIterable<KeyObject>, checks);
  }
  // jose checks iat only against a maximum age; go-oidc and kube-apiserver not at all. A token issued
  // well ahead of our clock is a broken issuer clock or a forgery (it would also outlive its exp math).
  const nowSec = Math.floor(opts.now.getTime() / 1000);
  checkTimeClaims(payload, nowSec);
  if (typeof payload.iat === 'number' && payload.iat > nowSec + IAT_SKEW_SEC) {
    throw new OidcError('E_ID_TOKEN_INVALID', `the issuer's ID token was rejected: it was issued in the future (iat ${payload.iat - nowSec} s ahead of this machine's clock; at most ${IAT_SKEW_SEC} s is allowed)`, {
      hint: "check this machine's clock and the issuer's",
    });
  }
  // OpenID Connect Core §3.1.3.7: a token for several audiences must say which party it was issued
  // to (azp), and an azp must be us. Otherwise a token minted for another client that merely lists
  // ours among its audiences would be accepted.
  const multiple = Array.isArray(payload.aud) && payload.aud.length > 1;
  if (payload.azp !== undefined && payload.azp !== opts.clientId) {
    throw new OidcError('E_ID_TOKEN_INVALID', `the issuer's ID token was rejected: it was issued to another client (azp ${JSON.stringify(String(payload.azp)).slice(0, 80)}, not ${opts.clientId})`);
  }
  if (multiple && payload.azp === undefined) {
    throw new OidcError('E_ID_TOKEN_INVALID', 'the issuer\'s ID token was rejected: it has several audiences but no azp (authorized party) claim naming this client');
  }
  if (opts.nonce !== undefined && payload.nonce !== opts.nonce) {
    throw new OidcError('E_ID_TOKEN_INVALID', 'the ID token does not carry the nonce of this login (a replayed or foreign token)');
  }
  const expiresAt = payload.exp as number;
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : nowSec;
  return { claims: payload as VerifiedIdToken['claims'], expiresAt, issuedAt };
}

/**
 * exp, iat and nbf must be times this program can reason about: finite, not before 1970, and exp at
 * most MAX_ID_TOKEN_LIFETIME_SEC ahead. jose only checks they are numbers (Infinity, from `1e400`, is one).
 */
function checkTimeClaims(payload: JWTPayload, nowSec: number): void {
  for (const claim of ['exp', 'iat', 'nbf'] as const) {
    const v = payload[claim];
    if (v !== undefined && !isEpochSeconds(v)) {
      throw new OidcError('E_ID_TOKEN_INVALID', `the issuer's ID token was rejected: its ${claim} (${timeText(v)}) is not a usable time`, { hint: 'report this to your issuer admin' });
    }
  }
  const exp = payload.exp as number;
  if (exp > nowSec + MAX_ID_TOKEN_LIFETIME_SEC) {
    throw new OidcError('E_ID_TOKEN_INVALID', `the issuer's ID token was rejected: its exp is ${Math.round((exp - nowSec) / 86_400)} days ahead of this machine's clock (at most ${MAX_ID_TOKEN_LIFETIME_SEC / 86_400} days is accepted)`, {
      hint: 'report this to your issuer admin',
    });
  }
}

function timeText(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v;
}

async function verifyWithCandidates(idToken: string, candidates: AsyncIterable<KeyObject>, checks: JWTVerifyOptions): Promise<JWTPayload> {
  let last: unknown;
  for await (const key of candidates) {
    try {
      return (await jwtVerify(idToken, key, checks)).payload;
    } catch (err) {
      last = err;
      if ((err as { code?: unknown }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') break; // a claim failed: another key will not help
    }
  }
  throw idTokenError(last);
}

function idTokenError(err: unknown): OidcError {
  // A key-set fetch failure surfaces here: keep its own classification (an outage is not an attack).
  const inner = oidcCause(err);
  if (inner) return inner;
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
