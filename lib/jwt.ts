import { printable } from './printable.js';

/**
 * Reading claims from a JWT that was verified when it was stored (status, login's "who am I",
 * the session's subject check). Never use this to decide whether to trust a token: lib/oidc/verify does that.
 */
export function claimsOf(jwt: string): Record<string, unknown> {
  try {
    const doc: unknown = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** At most this many groups are shown (a token may carry hundreds). */
const MAX_SHOWN_GROUPS = 50;

/**
 * Who a token is for, for people: email when present, else sub. The issuer chose these strings:
 * they come back printable (no control, bidi or line-break character; capped), since they go to
 * terminals (login, status) and into text meant to be copied (setup). Compare identities with the
 * raw claims from claimsOf, never with these.
 */
export function identityOf(claims: Record<string, unknown>): { subject?: string; email?: string; groups?: string[] } {
  const out: { subject?: string; email?: string; groups?: string[] } = {};
  if (typeof claims.sub === 'string') out.subject = printable(claims.sub);
  if (typeof claims.email === 'string') out.email = printable(claims.email);
  let groups: string[] | undefined;
  if (Array.isArray(claims.groups) && claims.groups.every((g) => typeof g === 'string')) groups = claims.groups;
  else if (typeof claims.groups === 'string') groups = [claims.groups];
  if (groups) out.groups = groups.slice(0, MAX_SHOWN_GROUPS).map((g) => printable(g, 100));
  return out;
}
