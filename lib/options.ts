import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { OidcError } from './errors.js';

export type StorageSetting = 'auto' | 'keyring' | 'file' | 'none';
const STORAGES: readonly StorageSetting[] = ['auto', 'keyring', 'file', 'none'];

/** Everything get-token (and login/logout) needs, after flags and defaults. Sent to the agent as is. */
export interface GetTokenOptions {
  issuerUrl: string;
  clientId: string;
  clientSecret?: string;
  extraScopes: string[];
  /** Absolute paths (resolved against the caller's cwd, not the agent's). */
  certificateAuthority: string[];
  certificateAuthorityData: string[];
  listenAddress: string[];
  redirectUrl?: string;
  skipOpenBrowser: boolean;
  browserCommand?: string;
  authenticationTimeoutSec: number;
  /** Absolute; undefined means the default cache dir. */
  tokenCacheDir?: string;
  tokenCacheStorage: StorageSetting;
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
  --oidc-client-secret=SECRET      client secret, for confidential clients only
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
  --token-cache-dir=DIR            where token files and locks live (default ~/.cache/kubectl-oidc)
  --token-cache-storage=MODE       auto (keyring if it works, else file), keyring, file or none
  --force-refresh                  refresh the ID token even if it is still valid
  --debug                          print stack traces and agent details on stderr`;

export function parseTokenFlags(argv: string[], cwd: string, env: Record<string, string | undefined>): { options: GetTokenOptions; debug: boolean; help: boolean } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: TOKEN_FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new OidcError('E_USAGE', cleanParseError(err), { hint: 'run `kubectl oidc get-token --help` for the flags' });
  }
  const help = values.help === true;
  const debug = values.debug === true || env.KUBECTL_OIDC_DEBUG === '1';
  if (help) return { options: undefined as unknown as GetTokenOptions, debug, help };
  const raw: Record<string, unknown> = {
    issuerUrl: values['oidc-issuer-url'],
    clientId: values['oidc-client-id'],
    clientSecret: values['oidc-client-secret'],
    extraScopes: values['oidc-extra-scope'] ?? [],
    certificateAuthority: ((values['certificate-authority'] as string[] | undefined) ?? []).map((f) => resolve(cwd, f)),
    certificateAuthorityData: values['certificate-authority-data'] ?? [],
    listenAddress: values['listen-address'] ?? DEFAULT_LISTEN,
    redirectUrl: values['oidc-redirect-url'],
    skipOpenBrowser: values['skip-open-browser'] === true,
    browserCommand: values['browser-command'],
    authenticationTimeoutSec: values['authentication-timeout-sec'] === undefined ? 180 : Number(values['authentication-timeout-sec']),
    tokenCacheDir: values['token-cache-dir'] === undefined ? undefined : resolve(cwd, values['token-cache-dir'] as string),
    tokenCacheStorage: values['token-cache-storage'] ?? 'auto',
    forceRefresh: values['force-refresh'] === true,
  };
  if (raw.issuerUrl === undefined) throw new OidcError('E_USAGE', 'missing required flag --oidc-issuer-url', { hint: 'add --oidc-issuer-url=https://your-issuer to the exec args in your kubeconfig' });
  if (raw.clientId === undefined) throw new OidcError('E_USAGE', 'missing required flag --oidc-client-id', { hint: 'add --oidc-client-id=YOUR_CLIENT to the exec args in your kubeconfig' });
  return { options: validateOptions(raw), debug, help };
}

function cleanParseError(err: unknown): string {
  // node:util messages are long and mention "strict mode"; keep the part a person needs.
  const msg = (err as Error).message.split('. ')[0] ?? 'bad arguments';
  return msg.replace(/^Unknown option '(.+)'$/, 'unknown flag $1').replace(/^Option '(.+?)'.*argument missing$/, 'flag $1 needs a value');
}

const str = (v: unknown): v is string => typeof v === 'string';
const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every(str);

/** Check options from flags or from the socket (the agent trusts nothing it reads). */
export function validateOptions(v: unknown): GetTokenOptions {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const fail = (m: string, hint?: string): never => {
    throw new OidcError('E_USAGE', m, hint ? { hint } : undefined);
  };
  if (!str(o.issuerUrl) || o.issuerUrl === '') fail('--oidc-issuer-url is empty');
  let u: URL;
  try {
    u = new URL(o.issuerUrl as string);
  } catch {
    return fail(`--oidc-issuer-url ${JSON.stringify(o.issuerUrl)} is not a URL`, 'for example --oidc-issuer-url=https://dex.example.com/dex');
  }
  if (u.protocol !== 'https:') fail(`--oidc-issuer-url must use https (got ${u.protocol.replace(':', '')})`, 'Kubernetes only trusts issuers served over HTTPS');
  if (!str(o.clientId) || o.clientId === '') fail('--oidc-client-id is empty');
  if (o.clientSecret !== undefined && !str(o.clientSecret)) fail('--oidc-client-secret is not a string');
  if (!strs(o.extraScopes)) fail('--oidc-extra-scope is not a list of strings');
  if (!strs(o.certificateAuthority) || !strs(o.certificateAuthorityData) || !strs(o.listenAddress)) fail('malformed list option');
  if ((o.listenAddress as string[]).length === 0) fail('--listen-address is empty');
  if (o.redirectUrl !== undefined) {
    if (!str(o.redirectUrl) || !/^https?:\/\//.test(o.redirectUrl)) fail('--oidc-redirect-url must be an http(s) URL');
  }
  if (o.browserCommand !== undefined && !str(o.browserCommand)) fail('--browser-command is not a string');
  const t = o.authenticationTimeoutSec;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3600) fail('--authentication-timeout-sec must be a whole number of seconds from 1 to 3600');
  if (o.tokenCacheDir !== undefined && !str(o.tokenCacheDir)) fail('--token-cache-dir is not a string');
  if (!STORAGES.includes(o.tokenCacheStorage as StorageSetting)) fail(`--token-cache-storage must be one of ${STORAGES.join(', ')}`);
  const out: GetTokenOptions = {
    issuerUrl: o.issuerUrl as string,
    clientId: o.clientId as string,
    extraScopes: o.extraScopes as string[],
    certificateAuthority: o.certificateAuthority as string[],
    certificateAuthorityData: o.certificateAuthorityData as string[],
    listenAddress: o.listenAddress as string[],
    skipOpenBrowser: o.skipOpenBrowser === true,
    authenticationTimeoutSec: t as number,
    tokenCacheStorage: o.tokenCacheStorage as StorageSetting,
    forceRefresh: o.forceRefresh === true,
  };
  if (str(o.clientSecret)) out.clientSecret = o.clientSecret;
  if (str(o.redirectUrl)) out.redirectUrl = o.redirectUrl;
  if (str(o.browserCommand)) out.browserCommand = o.browserCommand;
  if (str(o.tokenCacheDir)) out.tokenCacheDir = o.tokenCacheDir;
  return out;
}

/** The scopes requested: `openid` always, and `offline_access` because Dex only issues refresh tokens with it. */
export function scopesFor(o: Pick<GetTokenOptions, 'extraScopes'>): string[] {
  return [...new Set(['openid', 'offline_access', ...o.extraScopes])];
}
