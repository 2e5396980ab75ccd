import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth, so equal inputs hash equally (kubelogin#1638). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface KeyInput {
  issuerUrl: string;
  clientId: string;
  scopes: readonly string[];
  /** sha256 of the custom CA bundle, '' when the system roots are used. */
  caDigest: string;
  /** --insecure-skip-tls-verify: a session that trusts anyone is not the one that trusts the CA. */
  insecure?: boolean;
}

/** The session key: names the cache file, the lock and the keyring item. Hex, filename-safe. */
export function sessionKey(input: KeyInput): string {
  const scopes = [...new Set(input.scopes)].sort();
  const json = canonicalJson({ v: 1, issuerUrl: input.issuerUrl, clientId: input.clientId, scopes, caDigest: input.caDigest, insecure: input.insecure === true ? true : undefined });
  return createHash('sha256').update(json).digest('hex');
}
