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
  /** --username: the person the password grant logs in as (kubelogin keys by it too). */
  username?: string;
  /** --oidc-auth-request-extra-params: login_hint, connector_id, kc_idp_hint, hd... each can pick another person. */
  extraParams?: Readonly<Record<string, string>>;
  /** --session-name: a label with no meaning to the issuer, for two accounts whose flags are otherwise the same. */
  sessionName?: string;
}

/**
 * The session key: names the cache file, the lock and the keyring item. Hex, filename-safe.
 * A field that is absent (no username, no extra params, no session name, not insecure) is left out
 * of the hashed JSON, so a session that uses none of them keeps the key it had before they existed.
 */
export function sessionKey(input: KeyInput): string {
  const scopes = [...new Set(input.scopes)].sort();
  const extra = input.extraParams && Object.keys(input.extraParams).length > 0 ? input.extraParams : undefined;
  const json = canonicalJson({
    v: 1,
    issuerUrl: input.issuerUrl,
    clientId: input.clientId,
    scopes,
    caDigest: input.caDigest,
    insecure: input.insecure === true ? true : undefined,
    username: input.username || undefined,
    extraParams: extra,
    sessionName: input.sessionName || undefined,
  });
  return createHash('sha256').update(json).digest('hex');
}
