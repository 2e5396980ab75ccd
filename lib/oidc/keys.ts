import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { OidcError, isOidcError, oidcCause } from '../errors.js';
import { httpStatusError, type Http } from './http.js';

export interface KeyCacheOptions {
  now(): number;
  /** An unknown `kid` refetches the key set at most this often: a stream of forged kids cannot make us hammer the issuer. */
  cooldownMs?: number;
  /** Key sets older than this are fetched again before use. */
  maxAgeMs?: number;
}

/**
 * The issuer's signing keys. Fetched through the request's own HTTP client (CA, proxy) and signal,
 * which jose's remote key set cannot take per call; refetched once when a token names a key we
 * do not have (key rotation). A fetch failure is the issuer's outage, said as such.
 */
export function createKeyCache(jwksUri: string, opts: KeyCacheOptions) {
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
  let current: { local: JWTVerifyGetKey; fetchedAt: number } | undefined;
  /**
   * When an unknown kid last made us refetch. Only such refetches are rate-limited: a key set that
   * was fetched for another reason (start-up, age) a moment before the issuer rotated its key must
   * not turn the first token with the new kid into a rejected token (and an ended session).
   */
  let lookedForUnknownAt = -Infinity;
  let inFlight: Promise<JWTVerifyGetKey> | undefined;

  const fetchKeys = (http: Http, signal: AbortSignal): Promise<JWTVerifyGetKey> => {
    inFlight ??= (async () => {
      let res: Response;
      try {
        res = await http.fetch(jwksUri, { headers: { accept: 'application/json' }, signal });
      } catch (err) {
        const e = isOidcError(err) ? err : new OidcError('E_ISSUER_UNREACHABLE', String(err));
        if (e.code === 'E_ISSUER_RESPONSE') throw e; // an answer we refuse (too large) is not an outage
        throw new OidcError(e.code, `the issuer's keys could not be fetched: ${e.message}`, { cause: err, hint: 'the next try will succeed once the issuer is reachable again' });
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => {});
        const e = httpStatusError(res.status, "fetching the issuer's keys", jwksUri);
        throw new OidcError(e.code, `the issuer's keys could not be fetched: HTTP ${res.status} from ${jwksUri}`, {
          hint: e.code === 'E_ISSUER_UNAVAILABLE' ? 'the next try will succeed once the issuer is back' : 'check the issuer: its jwks_uri does not serve a key set',
        });
      }
      let doc: unknown;
      try {
        doc = await res.json();
      } catch (cause) {
        throw oidcCause(cause) ?? new OidcError('E_ISSUER_RESPONSE', `the issuer's key set at ${jwksUri} is not JSON`, { cause });
      }
      if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
        throw new OidcError('E_ISSUER_RESPONSE', `the issuer's key set at ${jwksUri} has no "keys" list`);
      }
      let local: JWTVerifyGetKey;
      try {
        local = createLocalJWKSet(doc as JSONWebKeySet);
      } catch (cause) {
        throw new OidcError('E_ISSUER_RESPONSE', `the issuer's key set at ${jwksUri} is not valid`, { cause });
      }
      current = { local, fetchedAt: opts.now() };
      return local;
    })().finally(() => (inFlight = undefined));
    return inFlight;
  };

  return {
    /** A jose key resolver bound to this call's HTTP client and signal. */
    resolver(http: Http, signal: AbortSignal): JWTVerifyGetKey {
      return async (header, token) => {
        if (!current || opts.now() - current.fetchedAt > maxAgeMs) await fetchKeys(http, signal);
        try {
          return await current!.local(header, token);
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (code !== 'ERR_JWKS_NO_MATCHING_KEY' || opts.now() - lookedForUnknownAt < cooldownMs) throw err;
          lookedForUnknownAt = opts.now();
          await fetchKeys(http, signal); // a new key at the issuer (rotation): look once more
          return current!.local(header, token);
        }
      };
    },
  };
}

export type KeyCache = ReturnType<typeof createKeyCache>;
