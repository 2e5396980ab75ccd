import { isAbsolute } from 'node:path';
import { OidcError } from '../errors.js';
import { GRANT_TYPES, PKCE_METHODS, STORAGES, type CacheConfig, type ProviderConfig, type UiConfig } from './table.js';

/**
 * The typed parts' validators: `unknown` in, a typed part or an E_USAGE error out. parse.ts calls them on
 * what it built from flags, and the agent again on what it reads from the socket (it trusts nothing it reads).
 */
const str = (v: unknown): v is string => typeof v === 'string';
const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);
export const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

const oneOf = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === 'string' && (list as readonly string[]).includes(v);

function fail(message: string, hint?: string): never {
  throw new OidcError('E_USAGE', message, hint ? { hint } : undefined);
}

/**
 * The issuer URLs that passed the URL and https check below: the validator's own memo, of nothing but its
 * answer for that string (a pure function of it), so it cannot go stale. The agent validates every request
 * it reads, and URL parsing is most of parseProvider; at most 64 entries, then it stops adding.
 */
const checkedIssuers = new Set<string>();
/** Shown in status tables and logs: printable, short, no spaces or separators a terminal could misread. */
const SESSION_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._@+:-]{0,63}$/u;

/** The provider: what a session is (issuer, client, scopes, CA, request headers, session name). */
export function parseProvider(v: unknown): ProviderConfig {
  const o = obj(v);
  if (!str(o.issuerUrl) || o.issuerUrl === '') fail('--oidc-issuer-url is empty');
  if (!checkedIssuers.has(o.issuerUrl)) {
    let u: URL;
    try {
      u = new URL(o.issuerUrl);
    } catch {
      return fail(`--oidc-issuer-url ${JSON.stringify(o.issuerUrl)} is not a URL`, 'for example --oidc-issuer-url=https://dex.example.com/dex');
    }
    if (u.protocol !== 'https:') fail(`--oidc-issuer-url must use https (got ${u.protocol.replace(':', '')})`, 'Kubernetes only trusts issuers served over HTTPS');
    if (checkedIssuers.size < 64) checkedIssuers.add(o.issuerUrl);
  }
  if (!str(o.clientId) || o.clientId === '') fail('--oidc-client-id is empty');
  if (o.clientSecret !== undefined && !str(o.clientSecret)) fail('--oidc-client-secret is not a string');
  if (!strs(o.extraScopes)) fail('--oidc-extra-scope is not a list of strings');
  if (!strs(o.caFiles) || !strs(o.caData)) fail('malformed --certificate-authority list');
  const out: ProviderConfig = {
    issuerUrl: o.issuerUrl,
    clientId: o.clientId,
    extraScopes: o.extraScopes,
    caFiles: o.caFiles,
    caData: o.caData,
    offlineAccess: o.offlineAccess !== false,
    insecureSkipTlsVerify: o.insecureSkipTlsVerify === true,
  };
  if (str(o.clientSecret) && o.clientSecret !== '') out.clientSecret = o.clientSecret;
  const headers: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(o.requestHeaders))) {
    // Header names are tokens (RFC 9110) and values visible text: anything else would break the request or smuggle another header.
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || !str(val) || /[\u0000-\u0008\u000a-\u001f\u007f]/.test(val)) fail(`--oidc-request-header ${JSON.stringify(k)} is not a valid HTTP header`);
    headers[k] = val;
  }
  if (Object.keys(headers).length > 0) out.requestHeaders = headers;
  if (o.sessionName !== undefined) {
    if (!str(o.sessionName) || !SESSION_NAME.test(o.sessionName)) fail('--session-name must be 1 to 64 letters, digits and . _ - @ + : (starting with a letter or digit)');
    out.sessionName = o.sessionName;
  }
  return out;
}

export function parseUi(v: unknown): UiConfig {
  const o = obj(v);
  const grantType = o.grantType;
  if (!oneOf(GRANT_TYPES, grantType)) return fail(`--grant-type must be one of ${GRANT_TYPES.join(', ')}`);
  const pkceMethod = o.pkceMethod;
  if (!oneOf(PKCE_METHODS, pkceMethod)) return fail(`--oidc-pkce-method must be one of ${PKCE_METHODS.join(', ')}`);
  if (!strs(o.listenAddress) || o.listenAddress.length === 0) fail('--listen-address is empty');
  if (o.redirectUrl !== undefined && (!str(o.redirectUrl) || !/^https?:\/\//.test(o.redirectUrl))) fail('--oidc-redirect-url must be an http(s) URL');
  if (o.browserCommand !== undefined && !str(o.browserCommand)) fail('--browser-command is not a string');
  const t = o.authenticationTimeoutSec;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3600) fail('--authentication-timeout-sec must be a whole number of seconds from 1 to 3600');
  const extra: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(o.authRequestExtraParams))) {
    if (!str(val)) fail('--oidc-auth-request-extra-params values must be strings');
    extra[k] = val;
  }
  if ((o.localServerCert === undefined) !== (o.localServerKey === undefined)) fail('--local-server-cert and --local-server-key go together');
  if (o.openUrlAfterAuthentication !== undefined && (!str(o.openUrlAfterAuthentication) || !/^https?:\/\//.test(o.openUrlAfterAuthentication))) {
    fail('--open-url-after-authentication must be an http(s) URL');
  }
  if (!str(o.keyboardRedirectUrl) || o.keyboardRedirectUrl === '') fail('--oidc-redirect-url-authcode-keyboard is empty');
  const out: UiConfig = {
    grantType,
    listenAddress: o.listenAddress,
    skipOpenBrowser: o.skipOpenBrowser === true,
    authenticationTimeoutSec: t,
    pkceMethod,
    authRequestExtraParams: extra,
    keyboardRedirectUrl: o.keyboardRedirectUrl,
  };
  if (str(o.redirectUrl)) out.redirectUrl = o.redirectUrl;
  if (str(o.redirectHostname) && o.redirectHostname !== '') out.redirectHostname = o.redirectHostname;
  if (str(o.browserCommand) && o.browserCommand !== '') out.browserCommand = o.browserCommand;
  if (str(o.localServerCert) && str(o.localServerKey)) Object.assign(out, { localServerCert: o.localServerCert, localServerKey: o.localServerKey });
  if (str(o.openUrlAfterAuthentication)) out.openUrlAfterAuthentication = o.openUrlAfterAuthentication;
  if (str(o.username) && o.username !== '') out.username = o.username;
  if (str(o.password) && o.password !== '') out.password = o.password;
  return out;
}

export function parseCache(v: unknown): CacheConfig {
  const o = obj(v);
  const storage = o.storage === 'disk' ? 'file' : o.storage;
  if (!oneOf(STORAGES, storage)) return fail(`--token-cache-storage must be one of ${STORAGES.join(', ')} (disk is file)`);
  if (o.dir !== undefined && (!str(o.dir) || !isAbsolute(o.dir))) fail('--token-cache-dir is not an absolute path');
  const out: CacheConfig = { storage };
  if (str(o.dir)) out.dir = o.dir;
  return out;
}
