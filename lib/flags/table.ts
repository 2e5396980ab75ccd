import type { ProviderConfig } from '../oidc/provider.js';

/**
 * The flag table and the typed parts flags become. Flags become typed parts at the boundary, each with one owner:
 * - the provider (issuer, client, scopes, CA, session name) is what a session *is*: its identity, its key,
 *   together with the UI's username and extra params, which pick the person (lib/agent/identity.ts);
 * - the UI (browser, listen address, timeout) belongs to one login, taken from the caller that starts it;
 * - the cache (storage, dir) says where the session's tokens live;
 * - the network (proxy variables) belongs to one request and travels in its forwarded environment.
 * parse.ts builds them from a command line, validate.ts checks them (again when the agent reads them from the socket).
 */
export type StorageSetting = 'auto' | 'keyring' | 'file' | 'none';
export const STORAGES: readonly StorageSetting[] = ['auto', 'keyring', 'file', 'none'];

export type { ProviderConfig } from '../oidc/provider.js';

export type GrantType = 'auto' | 'authcode' | 'authcode-keyboard' | 'device-code' | 'password' | 'client-credentials';
export const GRANT_TYPES: readonly GrantType[] = ['auto', 'authcode', 'authcode-keyboard', 'device-code', 'password', 'client-credentials'];
export type PkceMethod = 'auto' | 'no' | 'S256';
export const PKCE_METHODS: readonly PkceMethod[] = ['auto', 'no', 'S256'];
export const OOB_REDIRECT = 'urn:ietf:wg:oauth:2.0:oob';

export interface UiConfig {
  grantType: GrantType;
  listenAddress: string[];
  redirectUrl?: string;
  /** Host of the default redirect URL (kubelogin's --oidc-redirect-url-hostname; default localhost). */
  redirectHostname?: string;
  skipOpenBrowser: boolean;
  browserCommand?: string;
  authenticationTimeoutSec: number;
  pkceMethod: PkceMethod;
  /** Extra query parameters for the authorization request. */
  authRequestExtraParams: Record<string, string>;
  /** Serve the login callback over HTTPS with this certificate and key (absolute paths). */
  localServerCert?: string;
  localServerKey?: string;
  /** Send the browser here after a successful login. */
  openUrlAfterAuthentication?: string;
  /** Redirect URL of the keyboard flow (default urn:ietf:wg:oauth:2.0:oob). */
  keyboardRedirectUrl: string;
  /** Password grant: the user; the password comes from KUBECTL_OIDC_PASSWORD, --password or a /dev/tty prompt. */
  username?: string;
  password?: string;
}

export interface CacheConfig {
  storage: StorageSetting;
  /** Absolute; undefined means the default cache dir. */
  dir?: string;
}

export interface TokenFlags {
  provider: ProviderConfig;
  ui: UiConfig;
  cache: CacheConfig;
  forceRefresh: boolean;
  /** kubelogin's --oidc-use-access-token: the ExecCredential carries the access token instead of the ID token. */
  useAccessToken: boolean;
  /** One-line notices about flags (accepted but without effect here, or risky); the agent says each once. */
  notices: string[];
}

/** The per-cluster settings kubectl passes with provideClusterInfo: true (KUBERNETES_EXEC_INFO spec.cluster). */
export interface ClusterInfo {
  /** spec.cluster.config: the cluster's `client.authentication.k8s.io/exec` extension. */
  config?: unknown;
  /** spec.cluster.certificate-authority-data: the cluster's own CA, used when the extension says the issuer shares it. */
  caData?: string;
}

export const DEFAULT_LISTEN = ['127.0.0.1:8000', '127.0.0.1:18000'];
export const DEFAULT_AUTHENTICATION_TIMEOUT_SEC = 180;

/** One option table for get-token, login and logout: kubelogin's flag names, so switching is a rename. */
export const TOKEN_FLAGS = {
  'oidc-issuer-url': { type: 'string' },
  'oidc-client-id': { type: 'string' },
  'oidc-client-secret': { type: 'string' },
  'oidc-client-secret-file': { type: 'string' },
  'oidc-extra-scope': { type: 'string', multiple: true },
  'oidc-use-access-token': { type: 'boolean' },
  'oidc-request-header': { type: 'string', multiple: true },
  'no-offline-access': { type: 'boolean' },
  'oidc-pkce-method': { type: 'string' },
  'oidc-use-pkce': { type: 'boolean' },
  'oidc-auth-request-extra-params': { type: 'string', multiple: true },
  'certificate-authority': { type: 'string', multiple: true },
  'certificate-authority-data': { type: 'string', multiple: true },
  'insecure-skip-tls-verify': { type: 'boolean' },
  'tls-renegotiation-once': { type: 'boolean' },
  'tls-renegotiation-freely': { type: 'boolean' },
  'grant-type': { type: 'string' },
  'listen-address': { type: 'string', multiple: true },
  'listen-port': { type: 'string', multiple: true },
  'oidc-redirect-url': { type: 'string' },
  'oidc-redirect-url-hostname': { type: 'string' },
  'oidc-redirect-url-authcode-keyboard': { type: 'string' },
  'skip-open-browser': { type: 'boolean' },
  'browser-command': { type: 'string' },
  'authentication-timeout-sec': { type: 'string' },
  'local-server-cert': { type: 'string' },
  'local-server-key': { type: 'string' },
  'open-url-after-authentication': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  'session-name': { type: 'string' },
  'token-cache-dir': { type: 'string' },
  'token-cache-storage': { type: 'string' },
  'force-refresh': { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The flags that take one of a few words, with their words: help.ts, completion and docs/flags.md (npm run docs) read them. */
export const FLAG_VALUES: Readonly<Partial<Record<keyof typeof TOKEN_FLAGS, readonly string[]>>> = {
  'grant-type': GRANT_TYPES,
  'oidc-pkce-method': PKCE_METHODS,
  'token-cache-storage': STORAGES,
};
