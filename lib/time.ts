/**
 * Bounds on time values. Times come from the issuer (an ID token's exp, iat, nbf) and from token
 * files written earlier; both are untrusted. No jose or openid-client here: the store and the agent
 * core use these without loading the OIDC bundle.
 */

/**
 * The furthest ahead an ID token's `exp` may lie. Dex issues 24 h; a year is already far beyond any
 * sane issuer. Beyond it, an exp is a broken issuer or an attack: `exp` 10^12 (year 33658) was served
 * as fresh and made kubectl fail to parse the credential until logout.
 */
export const MAX_ID_TOKEN_LIFETIME_SEC = 366 * 86_400;

/** 9999-12-31T23:59:59Z: the last second RFC 3339 (and so kubectl's expirationTimestamp) can say. */
const LAST_EPOCH_SEC = 253_402_300_799;

/** A time (seconds since the epoch) that a Date, RFC 3339 and our arithmetic can all hold. */
export function isEpochSeconds(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= LAST_EPOCH_SEC;
}

/** setTimeout's longest wait (2^31-1 ms, 24.8 days). Node fires a longer one after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay setTimeout honours: never negative, never NaN, never past MAX_TIMER_MS (the caller waits again). */
export function timerDelay(ms: number): number {
  return Number.isFinite(ms) ? Math.min(MAX_TIMER_MS, Math.max(0, ms)) : MAX_TIMER_MS;
}
