import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { OidcError } from './errors.js';
import { parseFlags } from './cli.js';
import type { ProviderConfig } from './oidc/provider.js';

/**
 * Flags become typed parts at the boundary, each with one owner:
 * - the provider (issuer, client, scopes, CA, session name) is what a session *is*: its identity, its key,
 *   together with the UI's username and extra params, which pick the person (lib/agent/identity.ts);
 * - the UI (browser, listen address, timeout) belongs to one login, taken from the caller that starts it;
 * - the cache (storage, dir) says where the session's tokens live;
 * - the network (proxy variables) belongs to one request and travels in its forwarded environment.
 */
export type StorageSetting = 'auto' | 'keyring' | 'file' | 'none';
const STORAGES: readonly StorageSetting[] = ['auto', 'keyring', 'file', 'none'];

export type { ProviderConfig } from './oidc/provider.js';

export type GrantType = 'auto' | 'authcode' | 'authcode-keyboard' | 'device-code' | 'password' | 'client-credentials';
const GRANT_TYPES: readonly GrantType[] = ['auto', 'authcode', 'authcode-keyboard', 'device-code', 'password', 'client-credentials'];
export type PkceMethod = 'auto' | 'no' | 'S256';
const PKCE_METHODS: readonly PkceMethod[] = ['auto', 'no', 'S256'];
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

export const DEFAULT_LISTEN = ['127.0.0.1:8000', '127.0.0.1:18000'];

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

/** kubelogin's (klog's) global logging flags: accepted so a kubelogin kubeconfig works, and ignored. */
const KLOG_VALUE_FLAGS = new Set(['log_backtrace_at', 'log_dir', 'log_file', 'log_file_max_size', 'stderrthreshold', 'vmodule']);
const KLOG_BOOL_FLAGS = new Set(['add_dir_header', 'alsologtostderr', 'logtostderr', 'one_output', 'skip_headers', 'skip_log_headers']);
/** pflag string slices: a comma-separated value is several values. */
const COMMA_LISTS = new Set(['oidc-extra-scope', 'listen-address', 'oidc-auth-request-extra-params', 'oidc-request-header']);

export const TOKEN_FLAGS_HELP = `Flags (the same names as kubelogin's):
  --oidc-issuer-url=URL            issuer URL, exactly as the issuer reports it (required)
  --oidc-client-id=ID              OAuth client ID (required)
  --oidc-client-secret-file=FILE   client secret of a confidential client, read from FILE
                                   (or KUBECTL_OIDC_CLIENT_SECRET; --oidc-client-secret=S works but ps shows it)
  --oidc-extra-scope=SCOPE         extra scope to request, e.g. email or groups; repeatable, or a,b
                                   ("openid" and "offline_access" are always requested)
  --no-offline-access              do not request offline_access (issuers that refuse it, e.g. Google)
  --grant-type=TYPE                auto (default), authcode, authcode-keyboard, device-code, password or
                                   client-credentials (a confidential client's own token; never a browser)
  --username=USER                  password grant: the user (the password: KUBECTL_OIDC_PASSWORD or a prompt)
  --oidc-auth-request-extra-params=KEY=VALUE   extra authorization request parameter; repeatable
  --session-name=NAME              a name for this session, to keep two accounts with otherwise equal flags apart
                                   (letters, digits and . _ - @ + :, at most 64; not sent to the issuer)
  --oidc-use-access-token          put the access token, not the ID token, in the credential
  --oidc-request-header=KEY=VALUE  HTTP header on every request to the issuer; repeatable
  --oidc-use-pkce                  always use PKCE S256, even if the issuer does not list it
  --insecure-skip-tls-verify       do not verify the issuer's certificate (a security risk; warned on every login)
  --certificate-authority=FILE     PEM CA that signs the issuer's certificate; repeatable
  --certificate-authority-data=B64 the same, base64-encoded PEM; repeatable
  --listen-address=HOST:PORT       loopback address for the login callback; repeatable
                                   (default 127.0.0.1:8000, then 127.0.0.1:18000; port 0 picks any)
  --oidc-redirect-url=URL          redirect URL registered at the issuer (default http://localhost:PORT)
  --skip-open-browser              print the login URL instead of opening a browser
  --browser-command=CMD            open the login URL with CMD (the URL is appended as the last argument)
  --authentication-timeout-sec=N   how long to wait for the browser login (default 180)
  --token-cache-dir=DIR            where token files live (default ~/.cache/kubectl-oidc)
  --token-cache-storage=MODE       auto (keyring if it works, else file), keyring, file or none
  --force-refresh                  refresh the ID token even if it is still valid
  --debug, -v1                     print stack traces and agent details on stderr
Every other kubelogin get-token flag is accepted as well (--oidc-pkce-method, --oidc-redirect-url-hostname,
--local-server-cert/-key, --open-url-after-authentication, --oidc-redirect-url-authcode-keyboard, --password, ...).
With provideClusterInfo: true, the issuer, client ID, scopes and CA may come from the cluster's exec
extension instead (see docs/multi-cluster.md).`;

export type ParsedTokenFlags = { help: true; debug: boolean } | { help: false; debug: boolean; flags: TokenFlags };

/** The per-cluster settings kubectl passes with provideClusterInfo: true (KUBERNETES_EXEC_INFO spec.cluster). */
export interface ClusterInfo {
  /** spec.cluster.config: the cluster's `client.authentication.k8s.io/exec` extension. */
  config?: unknown;
  /** spec.cluster.certificate-authority-data: the cluster's own CA, used when the extension says the issuer shares it. */
  caData?: string;
}

export const CLUSTER_EXTENSION = 'client.authentication.k8s.io/exec';

/**
 * Go's flag conventions, which kubelogin users write: `-v1`/`--v=2` (klog verbosity), `--bool=true|false`,
 * comma-separated string slices, and klog's global flags (ignored). Turned into what parseArgs reads.
 */
function normalizeGoFlags(argv: readonly string[], notices: string[]): { args: string[]; verbosity: number } {
  const args: string[] = [];
  let verbosity = 0;
  const bools = new Set(Object.entries(TOKEN_FLAGS).filter(([, d]) => d.type === 'boolean').map(([k]) => k));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = /^--?v(?:=?(\d+))?$/.exec(a);
    if (v) {
      const level = v[1] ?? (/^\d+$/.test(argv[i + 1] ?? '') ? argv[++i]! : '0');
      verbosity = Number(level);
      continue;
    }
    const m = /^--([\w-]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      args.push(a);
      continue;
    }
    const name = m[1]!;
    const value = m[2];
    if (KLOG_BOOL_FLAGS.has(name) || KLOG_VALUE_FLAGS.has(name)) {
      if (KLOG_VALUE_FLAGS.has(name) && value === undefined) i++;
      notices.push(`--${name} is a kubelogin logging flag; ignored (use --debug for details)`);
      continue;
    }
    if (bools.has(name) && value !== undefined) {
      if (/^(true|1|t)$/i.test(value)) args.push(`--${name}`);
      else if (!/^(false|0|f)$/i.test(value)) throw new OidcError('E_USAGE', `--${name} takes true or false, not ${JSON.stringify(value)}`);
      continue;
    }
    if (COMMA_LISTS.has(name)) {
      // pflag splits a string slice in both spellings: --name=a,b and --name a,b.
      // A next argument that starts with a dash is left to parseArgs, which names the missing value.
      const list = value ?? (i + 1 < argv.length && !argv[i + 1]!.startsWith('-') ? argv[++i]! : undefined);
      if (list === undefined) args.push(a);
      else for (const part of list.split(',')) if (part !== '') args.push(`--${name}=${part}`);
      continue;
    }
    args.push(a);
  }
  return { args, verbosity };
}

/** kubelogin expands a leading ~ in path flags. */
function expandHome(p: string, cwd: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return resolve(cwd, p);
}

const listOf = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

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
  const ext = obj(cluster.config);
  const fromCluster = Object.keys(ext).length > 0;
  const issuerUrl = values['oidc-issuer-url'] ?? (typeof ext['oidc-issuer-url'] === 'string' ? ext['oidc-issuer-url'] : undefined);
  const clientId = values['oidc-client-id'] ?? (typeof ext['oidc-client-id'] === 'string' ? ext['oidc-client-id'] : undefined);
  const where = `add it to the exec args in your kubeconfig, or to the cluster's "${CLUSTER_EXTENSION}" extension (with provideClusterInfo: true)`;
  if (issuerUrl === undefined) throw new OidcError('E_USAGE', `missing --oidc-issuer-url${fromCluster ? ' (the cluster\'s exec extension has no oidc-issuer-url either)' : ''}`, { hint: where });
  if (clientId === undefined) throw new OidcError('E_USAGE', 'missing --oidc-client-id', { hint: where });
  const extraScopes = values['oidc-extra-scope'] ?? listOf(ext['oidc-extra-scope']).flatMap((s) => s.split(',')).filter(Boolean);
  let caFiles = (values['certificate-authority'] ?? []).map(at);
  let caData = values['certificate-authority-data'] ?? [];
  if (caFiles.length === 0 && caData.length === 0) {
    caFiles = listOf(ext['certificate-authority']).map(at);
    caData = listOf(ext['certificate-authority-data']);
    const shared = ext['use-cluster-certificate-authority'];
    if ((shared === true || shared === 'true') && cluster.caData) caData = [...caData, cluster.caData];
  }

  // The client secret: a file or the environment keep it out of argv, which every local user can read.
  let clientSecret = values['oidc-client-secret'];
  if (clientSecret !== undefined) notices.push('--oidc-client-secret is visible to every local user (ps); use --oidc-client-secret-file=FILE or KUBECTL_OIDC_CLIENT_SECRET');
  const secretFile = values['oidc-client-secret-file'];
  if (clientSecret === undefined && secretFile !== undefined) {
    try {
      clientSecret = readFileSync(at(secretFile), 'utf8').trim();
    } catch (err) {
      throw new OidcError('E_CONFIG', `cannot read --oidc-client-secret-file ${secretFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  clientSecret ??= env.KUBECTL_OIDC_CLIENT_SECRET || undefined;

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
      authenticationTimeoutSec: timeout === undefined ? 180 : Number(timeout),
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

/** pflag's StringToString: KEY=VALUE, repeatable; the last value of a key wins. */
function keyValues(flag: string, list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) fail(`--${flag} ${JSON.stringify(kv)} is not KEY=VALUE`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Flags whose value is a path (kubelogin expands ~ in them): written back absolute. */
const PATH_FLAGS: ReadonlySet<string> = new Set(['oidc-client-secret-file', 'certificate-authority', 'local-server-cert', 'local-server-key', 'token-cache-dir']);

/** Flags of one run that `setup` does not write into a kubeconfig (which every kubectl command runs), and why. */
export const NOT_WRITTEN: Readonly<Partial<Record<keyof typeof TOKEN_FLAGS, string>>> = {
  help: 'not a setting',
  debug: "setup's own diagnostics (add --debug to the kubeconfig by hand to debug every kubectl run)",
  'force-refresh': 'it would refresh the token on every kubectl command',
  password: 'a secret, which argv shows to every local user: set KUBECTL_OIDC_PASSWORD where kubectl runs, or get-token asks at the terminal',
};

/**
 * The get-token arguments that reproduce exactly the flags the user gave, for `setup` to write into a
 * kubeconfig: every flag in TOKEN_FLAGS order, Go-style spellings normalised (`--x=true`, `a,b` lists),
 * paths made absolute, NOT_WRITTEN flags and klog's flags left out. A secret from a file stays a file
 * flag and one from KUBECTL_OIDC_CLIENT_SECRET stays in the environment: `notes` says what must be set.
 */
export function tokenArgsToWrite(argv: string[], cwd: string, env: Record<string, string | undefined>): { args: string[]; notes: string[] } {
  const home = env.HOME || homedir();
  const { args: normalized } = normalizeGoFlags(argv, []);
  const { values } = parseFlags(normalized, TOKEN_FLAGS, 'run `kubectl-oidc setup --help` for the flags');
  const args: string[] = [];
  const notes: string[] = [];
  const given = values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  for (const name of Object.keys(TOKEN_FLAGS) as (keyof typeof TOKEN_FLAGS)[]) {
    const v = given[name];
    if (v === undefined || v === false) continue;
    const why = NOT_WRITTEN[name];
    if (why !== undefined) {
      if (name === 'password') notes.push(`--password is not written into the kubeconfig: ${why}`);
      continue;
    }
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === true) args.push(`--${name}`);
      else if (typeof one === 'string') args.push(`--${name}=${PATH_FLAGS.has(name) ? expandHome(one, cwd, home) : one}`);
    }
  }
  if (values['oidc-client-secret'] === undefined && values['oidc-client-secret-file'] === undefined && env.KUBECTL_OIDC_CLIENT_SECRET) {
    notes.push('the client secret came from KUBECTL_OIDC_CLIENT_SECRET and is not written into the kubeconfig: set it wherever kubectl runs');
  }
  return { args, notes };
}

const str = (v: unknown): v is string => typeof v === 'string';
const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

const oneOf = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === 'string' && (list as readonly string[]).includes(v);

function fail(message: string, hint?: string): never {
  throw new OidcError('E_USAGE', message, hint ? { hint } : undefined);
}

const checkedIssuers = new Set<string>();
/** Shown in status tables and logs: printable, short, no spaces or separators a terminal could misread. */
const SESSION_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._@+:-]{0,63}$/u;

/** Each part is checked where it is built from flags and again where it is read from the socket (the agent trusts nothing it reads). */
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
    // The agent parses every request: remember the few issuer URLs that passed (URL parsing is most of this function).
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

/** The flags that take one of a few words, with their words: completion and docs/flags.md (npm run docs) read them. */
export const FLAG_VALUES: Readonly<Partial<Record<keyof typeof TOKEN_FLAGS, readonly string[]>>> = {
  'grant-type': GRANT_TYPES,
  'oidc-pkce-method': PKCE_METHODS,
  'token-cache-storage': STORAGES,
};
