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

/** Who a token is for, for people: email when present, else sub. */
export function identityOf(claims: Record<string, unknown>): { subject?: string; email?: string; groups?: string[] } {
  const out: { subject?: string; email?: string; groups?: string[] } = {};
  if (typeof claims.sub === 'string') out.subject = claims.sub;
  if (typeof claims.email === 'string') out.email = claims.email;
  if (Array.isArray(claims.groups) && claims.groups.every((g) => typeof g === 'string')) out.groups = claims.groups;
  else if (typeof claims.groups === 'string') out.groups = [claims.groups];
  return out;
}
