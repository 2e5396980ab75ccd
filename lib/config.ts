import { closeSync, openSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { OidcError } from './errors.js';
import { parseFlags } from './cli.js';
import { ensurePrivateDir, stateDir } from './paths.js';

/**
 * Flags become typed parts at the boundary, each with one owner:
 * - the provider (issuer, client, scopes, CA) is what a session *is*: its identity, its key;
 * - the UI (browser, listen address, timeout) belongs to one login, taken from the caller that starts it;
 * - the cache (storage, dir) says where the session's tokens live;
 * - the network (proxy variables) belongs to one request and travels in its forwarded environment.
 */
export type StorageSetting = 'auto' | 'keyring' | 'file' | 'none';
const STORAGES: readonly StorageSetting[] = ['auto', 'keyring', 'file', 'none'];

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
}

export interface UiConfig {
  listenAddress: string[];
  redirectUrl?: string;
  skipOpenBrowser: boolean;
  browserCommand?: string;
  authenticationTimeoutSec: number;
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
}

export const DEFAULT_LISTEN = ['127.0.0.1:8000', '127.0.0.1:18000'];

/** One option table for get-token, login and logout: kubelogin's flag names, so switching is a rename. */
export const TOKEN_FLAGS = {
  'oidc-issuer-url': { type: 'string' },
  'oidc-client-id': { type: 'string' },
  'oidc-client-secret': { type: 'string' },
  'oidc-extra-scope': { type: 'string', multiple: true },
  'certificate-authority': { type: 'string', multiple: true },
  'certificate-authority-data': { type: 'string', multiple: true },
  'listen-address': { type: 'string', multiple: true },
  'oidc-redirect-url': { type: 'string' },
  'skip-open-browser': { type: 'boolean' },
  'browser-command': { type: 'string' },
  'authentication-timeout-sec': { type: 'string' },
  'token-cache-dir': { type: 'string' },
  'token-cache-storage': { type: 'string' },
  'force-refresh': { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TOKEN_FLAGS_HELP = `Flags (the same names as kubelogin's):
  --oidc-issuer-url=URL            issuer URL, exactly as the issuer reports it (required)
  --oidc-client-id=ID              OAuth client ID (required)
  --oidc-client-secret=SECRET      client secret, for confidential clients only (visible to ps)
  --oidc-extra-scope=SCOPE         extra scope to request, e.g. email or groups; repeatable
                                   ("openid" and "offline_access" are always requested)
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
  --debug                          print stack traces and agent details on stderr`;

export type ParsedTokenFlags = { help: true; debug: boolean } | { help: false; debug: boolean; flags: TokenFlags; secretInArgv: boolean };

export function parseTokenFlags(argv: string[], cwd: string, env: Record<string, string | undefined>): ParsedTokenFlags {
  const { values } = parseFlags(argv, TOKEN_FLAGS, 'run `kubectl oidc get-token --help` for the flags');
  const debug = values.debug === true || env.KUBECTL_OIDC_DEBUG === '1';
  if (values.help === true) return { help: true, debug };
  if (values['oidc-issuer-url'] === undefined) {
    throw new OidcError('E_USAGE', 'missing required flag --oidc-issuer-url', { hint: 'add --oidc-issuer-url=https://your-issuer to the exec args in your kubeconfig' });
  }
  if (values['oidc-client-id'] === undefined) {
    throw new OidcError('E_USAGE', 'missing required flag --oidc-client-id', { hint: 'add --oidc-client-id=YOUR_CLIENT to the exec args in your kubeconfig' });
  }
  const timeout = values['authentication-timeout-sec'];
  const flags: TokenFlags = {
    provider: parseProvider({
      issuerUrl: values['oidc-issuer-url'],
      clientId: values['oidc-client-id'],
      clientSecret: values['oidc-client-secret'],
      extraScopes: values['oidc-extra-scope'] ?? [],
      caFiles: (values['certificate-authority'] ?? []).map((f) => resolve(cwd, f)),
      caData: values['certificate-authority-data'] ?? [],
    }),
    ui: parseUi({
      listenAddress: values['listen-address'] ?? DEFAULT_LISTEN,
      redirectUrl: values['oidc-redirect-url'],
      skipOpenBrowser: values['skip-open-browser'] === true,
      browserCommand: values['browser-command'],
      authenticationTimeoutSec: timeout === undefined ? 180 : Number(timeout),
    }),
    cache: parseCache({
      storage: values['token-cache-storage'] ?? 'auto',
      dir: values['token-cache-dir'] === undefined ? undefined : resolve(cwd, values['token-cache-dir']),
    }),
    forceRefresh: values['force-refresh'] === true,
  };
  return { help: false, debug, flags, secretInArgv: values['oidc-client-secret'] !== undefined };
}

/**
 * --oidc-client-secret on the command line is readable by every local user (ps, /proc/PID/cmdline).
 * Say so once per user, not on every kubectl command: a marker file in the state dir remembers it.
 * The warning names the flag, never the secret.
 */
export function warnSecretInArgvOnce(parsed: ParsedTokenFlags, env: Record<string, string | undefined>, stderr: (text: string) => void): void {
  if (parsed.help || !parsed.secretInArgv) return;
  try {
    const dir = stateDir(env);
    ensurePrivateDir(dir);
    closeSync(openSync(join(dir, 'warned-client-secret-in-argv'), 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return; // said before
    // Cannot remember it: say it anyway, rather than never.
  }
  stderr(
    'kubectl-oidc: warning: --oidc-client-secret on the command line is visible to every user of this machine (ps, /proc); ' +
      'prefer a public client with PKCE (no secret). This is said once.\n',
  );
}

const str = (v: unknown): v is string => typeof v === 'string';
const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function fail(message: string, hint?: string): never {
  throw new OidcError('E_USAGE', message, hint ? { hint } : undefined);
}

/** Each part is checked where it is built from flags and again where it is read from the socket (the agent trusts nothing it reads). */
export function parseProvider(v: unknown): ProviderConfig {
  const o = obj(v);
  if (!str(o.issuerUrl) || o.issuerUrl === '') fail('--oidc-issuer-url is empty');
  let u: URL;
  try {
    u = new URL(o.issuerUrl);
  } catch {
    return fail(`--oidc-issuer-url ${JSON.stringify(o.issuerUrl)} is not a URL`, 'for example --oidc-issuer-url=https://dex.example.com/dex');
  }
  if (u.protocol !== 'https:') fail(`--oidc-issuer-url must use https (got ${u.protocol.replace(':', '')})`, 'Kubernetes only trusts issuers served over HTTPS');
  if (!str(o.clientId) || o.clientId === '') fail('--oidc-client-id is empty');
  if (o.clientSecret !== undefined && !str(o.clientSecret)) fail('--oidc-client-secret is not a string');
  if (!strs(o.extraScopes)) fail('--oidc-extra-scope is not a list of strings');
  if (!strs(o.caFiles) || !strs(o.caData)) fail('malformed --certificate-authority list');
  const out: ProviderConfig = { issuerUrl: o.issuerUrl, clientId: o.clientId, extraScopes: o.extraScopes, caFiles: o.caFiles, caData: o.caData };
  if (str(o.clientSecret) && o.clientSecret !== '') out.clientSecret = o.clientSecret;
  return out;
}

export function parseUi(v: unknown): UiConfig {
  const o = obj(v);
  if (!strs(o.listenAddress) || o.listenAddress.length === 0) fail('--listen-address is empty');
  if (o.redirectUrl !== undefined && (!str(o.redirectUrl) || !/^https?:\/\//.test(o.redirectUrl))) fail('--oidc-redirect-url must be an http(s) URL');
  if (o.browserCommand !== undefined && !str(o.browserCommand)) fail('--browser-command is not a string');
  const t = o.authenticationTimeoutSec;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3600) fail('--authentication-timeout-sec must be a whole number of seconds from 1 to 3600');
  const out: UiConfig = { listenAddress: o.listenAddress, skipOpenBrowser: o.skipOpenBrowser === true, authenticationTimeoutSec: t };
  if (str(o.redirectUrl)) out.redirectUrl = o.redirectUrl;
  if (str(o.browserCommand) && o.browserCommand !== '') out.browserCommand = o.browserCommand;
  return out;
}

export function parseCache(v: unknown): CacheConfig {
  const o = obj(v);
  if (!STORAGES.includes(o.storage as StorageSetting)) fail(`--token-cache-storage must be one of ${STORAGES.join(', ')}`);
  if (o.dir !== undefined && (!str(o.dir) || !isAbsolute(o.dir))) fail('--token-cache-dir is not an absolute path');
  const out: CacheConfig = { storage: o.storage as StorageSetting };
  if (str(o.dir)) out.dir = o.dir;
  return out;
}

/** The scopes requested: `openid` always, and `offline_access` because Dex only issues refresh tokens with it. */
export function scopesFor(p: Pick<ProviderConfig, 'extraScopes'>): string[] {
  return [...new Set(['openid', 'offline_access', ...p.extraScopes])];
}
