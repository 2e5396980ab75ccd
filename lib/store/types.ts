import { isEpochSeconds } from '../time.js';

/** What a session needs to resume without a login. Kept small: one keyring item must stay well under 2 KiB-ish limits. */
export interface TokenSet {
  /** Empty only for a client-credentials session whose issuer returned no ID token (then accessToken is set). */
  idToken: string;
  /** Absent when the issuer gave none (no offline_access). */
  refreshToken?: string;
  /** The ID token's `exp`, in seconds since the epoch. */
  expiresAt: number;
  /** The ID token's `iat`, in seconds since the epoch (used to size the refresh margin). */
  issuedAt: number;
  /** For --oidc-use-access-token: the access token from the same grant, and when it expires (seconds). */
  accessToken?: string;
  accessExpiresAt?: number;
}

export type StorageKind = 'file' | 'keyring' | 'none';

/**
 * A place to keep one TokenSet per session key. Implementations never throw for a missing or
 * corrupt entry (that is a cache miss: `undefined`), only for a store that cannot work at all.
 */
export interface TokenStore {
  readonly kind: StorageKind;
  load(key: string): Promise<TokenSet | undefined>;
  save(key: string, tokens: TokenSet): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Parse anything read back from a store; `undefined` for anything that is not a TokenSet. */
export function parseTokenSet(value: unknown): TokenSet | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  // An empty ID token only with an access token: a client-credentials grant whose issuer returns no ID token.
  if (typeof v.idToken !== 'string' || (v.idToken.length === 0 && !(typeof v.accessToken === 'string' && v.accessToken.length > 0))) return undefined;
  if (typeof v.expiresAt !== 'number' || typeof v.issuedAt !== 'number') return undefined;
  if (v.refreshToken !== undefined && typeof v.refreshToken !== 'string') return undefined;
  // A time no Date can hold (a file from before exp was bounded, or edited): the ID token counts as
  // expired, so the refresh token, which is still good, gets a new one verified.
  const sane = isEpochSeconds(v.expiresAt) && isEpochSeconds(v.issuedAt);
  const out: TokenSet = { idToken: v.idToken, expiresAt: sane ? v.expiresAt : 0, issuedAt: sane ? v.issuedAt : 0 };
  if (typeof v.refreshToken === 'string' && v.refreshToken.length > 0) out.refreshToken = v.refreshToken;
  if (typeof v.accessToken === 'string' && v.accessToken.length > 0) out.accessToken = v.accessToken;
  if (isEpochSeconds(v.accessExpiresAt)) out.accessExpiresAt = v.accessExpiresAt;
  return out;
}
