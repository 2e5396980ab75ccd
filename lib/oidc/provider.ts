/**
 * The issuer and client a session talks to, and the scope rules derived from it (moved here from lib/config.ts;
 * lib/flags/ parses the flags into it and re-exports the type). Types and pure functions only: lib/flags/ is on
 * the get-token path and imports the type from here.
 */
export interface ProviderConfig {
  issuerUrl: string;
  clientId: string;
  /** Visible in argv when given as a flag; see README "Secrets". */
  clientSecret?: string;
  extraScopes: string[];
  /** Absolute paths (resolved against the caller's cwd, not the agent's). */
  caFiles: string[];
  /** base64 PEM. */
  caData: string[];
  /** Ask for `offline_access` (Dex issues refresh tokens only then); off for issuers that refuse the scope. */
  offlineAccess: boolean;
  /** kubelogin's --insecure-skip-tls-verify: part of the identity, since it changes whom we trust. */
  insecureSkipTlsVerify: boolean;
  /**
   * --oidc-request-header: sent on every request to the issuer (discovery, keys, token, device,
   * revocation), e.g. for a gateway in front of it. Not part of the identity: the same account.
   */
  requestHeaders?: Record<string, string>;
  /** --session-name: a label with no meaning to the issuer, part of the identity only (two accounts, same flags). */
  sessionName?: string;
}

/** The scopes requested: `openid` always, and `offline_access` (Dex only issues refresh tokens with it) unless turned off. */
export function scopesFor(p: Pick<ProviderConfig, 'extraScopes'> & Partial<Pick<ProviderConfig, 'offlineAccess'>>): string[] {
  return [...new Set(['openid', ...(p.offlineAccess === false ? [] : ['offline_access']), ...p.extraScopes])];
}

/** Dex's cross-client scope `audience:server:client_id:X` asks for a token whose `aud` is X. */
export function audiencesFor(p: Pick<ProviderConfig, 'extraScopes' | 'clientId'>): string[] {
  const cross = p.extraScopes.flatMap((s) => /^audience:server:client_id:(.+)$/.exec(s)?.[1] ?? []);
  return cross.length > 0 ? cross : [p.clientId];
}
