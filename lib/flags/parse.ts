import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { OidcError } from '../errors.js';
import { parseFlags } from '../cli.js';
import { CLUSTER_EXTENSION, clusterSettings } from './cluster.js';
import { expandHome, keyValues, normalizeGoFlags } from './go-compat.js';
import { DEFAULT_AUTHENTICATION_TIMEOUT_SEC, DEFAULT_LISTEN, OOB_REDIRECT, TOKEN_FLAGS, type ClusterInfo, type TokenFlags } from './table.js';
import { parseCache, parseProvider, parseUi } from './validate.js';

export type ParsedTokenFlags = { help: true; debug: boolean } | { help: false; debug: boolean; flags: TokenFlags };

/**
 * A token command's command line (get-token, login, logout) to TokenFlags: argv in kubelogin's spellings,
 * the caller's cwd and environment (the agent parses for callers whose cwd and HOME are not its own), and
 * the cluster settings kubectl passed. Every part is checked by validate.ts before it is returned.
 */
export function parseTokenFlags(argv: string[], cwd: string, env: Record<string, string | undefined>, cluster: ClusterInfo = {}): ParsedTokenFlags {
  const notices: string[] = [];
  // Paths as the caller means them: the agent parses for callers whose cwd and HOME are not its own.
  const home = env.HOME || homedir();
  const at = (p: string) => expandHome(p, cwd, home);
  const { args, verbosity } = normalizeGoFlags(argv, notices);
  const { values } = parseFlags(args, TOKEN_FLAGS, 'run `kubectl-oidc get-token --help` for the flags');
  const debug = values.debug === true || verbosity >= 1 || env.KUBECTL_OIDC_DEBUG === '1';
  if (values.help === true) return { help: true, debug };

  // Per-cluster settings from the cluster's exec extension; the user entry's flags override them.
  const ext = clusterSettings(cluster);
  const issuerUrl = values['oidc-issuer-url'] ?? ext.issuerUrl;
  const clientId = values['oidc-client-id'] ?? ext.clientId;
  const where = `add it to the exec args in your kubeconfig, or to the cluster's "${CLUSTER_EXTENSION}" extension (with provideClusterInfo: true)`;
  if (issuerUrl === undefined) throw new OidcError('E_USAGE', `missing --oidc-issuer-url${ext.present ? ' (the cluster\'s exec extension has no oidc-issuer-url either)' : ''}`, { hint: where });
  if (clientId === undefined) throw new OidcError('E_USAGE', 'missing --oidc-client-id', { hint: where });
  const extraScopes = values['oidc-extra-scope'] ?? ext.extraScopes;
  let caFiles = (values['certificate-authority'] ?? []).map(at);
  let caData = values['certificate-authority-data'] ?? [];
  if (caFiles.length === 0 && caData.length === 0) {
    caFiles = ext.caFiles.map(at);
    caData = ext.caData;
  }

  const clientSecret = readClientSecret(values['oidc-client-secret'], values['oidc-client-secret-file'], at, env, notices);
  const password = values.password ?? (env.KUBECTL_OIDC_PASSWORD || undefined);
  if (values.password !== undefined) notices.push('--password is visible to every local user (ps); use KUBECTL_OIDC_PASSWORD or the prompt');
  if (values['tls-renegotiation-once'] || values['tls-renegotiation-freely']) notices.push('--tls-renegotiation-* has no effect: Node.js allows the renegotiation a TLS 1.2 server asks for');
  // kubelogin: --oidc-use-pkce forces S256 whatever --oidc-pkce-method says.
  const pkce = values['oidc-use-pkce'] === true ? 'S256' : (values['oidc-pkce-method'] ?? 'auto');
  const extra = keyValues('oidc-auth-request-extra-params', values['oidc-auth-request-extra-params']);
  const requestHeaders = keyValues('oidc-request-header', values['oidc-request-header']);
  let listen = values['listen-address'];
  if (!listen && values['listen-port']) {
    listen = values['listen-port'].map((p) => `127.0.0.1:${p}`);
    notices.push('--listen-port is deprecated in kubelogin; use --listen-address=127.0.0.1:PORT');
  }
  const storage = values['token-cache-storage'] === 'disk' ? 'file' : (values['token-cache-storage'] ?? 'auto');
  const timeout = values['authentication-timeout-sec'];
  const grantType = values['grant-type'] ?? (values.username !== undefined ? 'password' : 'auto');
  const path = (v: string | undefined) => (v === undefined ? undefined : at(v));
  const flags: TokenFlags = {
    provider: parseProvider({
      issuerUrl,
      clientId,
      clientSecret,
      extraScopes,
      caFiles,
      caData,
      offlineAccess: values['no-offline-access'] !== true,
      insecureSkipTlsVerify: values['insecure-skip-tls-verify'] === true,
      requestHeaders,
      sessionName: values['session-name'],
    }),
    ui: parseUi({
      grantType,
      listenAddress: listen ?? DEFAULT_LISTEN,
      redirectUrl: values['oidc-redirect-url'],
      redirectHostname: values['oidc-redirect-url-hostname'],
      skipOpenBrowser: values['skip-open-browser'] === true,
      browserCommand: values['browser-command'],
      authenticationTimeoutSec: timeout === undefined ? DEFAULT_AUTHENTICATION_TIMEOUT_SEC : Number(timeout),
      pkceMethod: pkce,
      authRequestExtraParams: extra,
      localServerCert: path(values['local-server-cert']),
      localServerKey: path(values['local-server-key']),
      openUrlAfterAuthentication: values['open-url-after-authentication'],
      keyboardRedirectUrl: values['oidc-redirect-url-authcode-keyboard'] ?? OOB_REDIRECT,
      username: values.username,
      password,
    }),
    cache: parseCache({ storage, dir: path(values['token-cache-dir']) }),
    forceRefresh: values['force-refresh'] === true,
    useAccessToken: values['oidc-use-access-token'] === true,
    notices,
  };
  return { help: false, debug, flags };
}

/**
 * The client secret: --oidc-client-secret (with a notice), else the file, else KUBECTL_OIDC_CLIENT_SECRET.
 * A file or the environment keep it out of argv, which every local user can read.
 */
function readClientSecret(
  inArgv: string | undefined,
  file: string | undefined,
  at: (p: string) => string,
  env: Record<string, string | undefined>,
  notices: string[],
): string | undefined {
  let secret = inArgv;
  if (secret !== undefined) notices.push('--oidc-client-secret is visible to every local user (ps); use --oidc-client-secret-file=FILE or KUBECTL_OIDC_CLIENT_SECRET');
  if (secret === undefined && file !== undefined) {
    try {
      secret = readFileSync(at(file), 'utf8').trim();
    } catch (err) {
      throw new OidcError('E_CONFIG', `cannot read --oidc-client-secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return secret ?? (env.KUBECTL_OIDC_CLIENT_SECRET || undefined);
}
