import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { OidcError, findCause } from '../errors.js';
import { pemBlocks, readCaFile } from './ca.js';

export type Env = Record<string, string | undefined>;

/**
 * The most any issuer answer (discovery, JWKS, token) may hold. Real ones are a few KiB (a JWKS with
 * a dozen keys, a token answer with three JWTs): 1 MiB is generous, and bounds what a hostile or
 * broken issuer can make the agent hold in memory.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The fetch the rest of lib/oidc uses: undici's, bound to one dispatcher that carries the CA and proxy. */
export type HttpFetch = (url: string, init: { method?: string; headers?: Record<string, string> | Headers; body?: unknown; redirect?: 'manual' | 'follow'; signal?: AbortSignal | undefined }) => Promise<Response>;

export interface Http {
  fetch: HttpFetch;
  close(): Promise<void>;
}

export interface HttpOptions {
  /** The custom CA certificates (PEM), already read and checked (ca.ts). */
  cas: readonly string[];
  /** The caller's network settings (HTTPS_PROXY, NO_PROXY, ...): the agent's own env may be stale. */
  network?: Env;
  timeoutMs?: number;
  /** --insecure-skip-tls-verify: accept any certificate (the login says so, loudly). */
  insecure?: boolean;
}

/**
 * NODE_EXTRA_CA_CERTS as the caller set it. Passing `ca` replaces Node's defaults, including these:
 * add them back by hand. Read without blocking (readCaFile); like Node, a file that is not there is
 * ignored, but one that cannot be read safely (a FIFO, /dev/zero, huge, hung) is a clear error.
 */
async function extraSystemCAs(env: Env): Promise<string[]> {
  const file = env.NODE_EXTRA_CA_CERTS ?? process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return pemBlocks(await readCaFile(file, `NODE_EXTRA_CA_CERTS (${file})`));
  } catch (err) {
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') return [];
    throw err;
  }
}

export function createHttp(opts: HttpOptions): Http {
  const custom = opts.cas;
  const env = opts.network ?? process.env;
  // Built on the first request, which can wait for NODE_EXTRA_CA_CERTS to be read; a failure is
  // that request's error and the next one tries again.
  let dispatcher: Promise<Dispatcher> | undefined;
  const dispatcherFor = () => {
    dispatcher ??= (async () => {
      // The custom CA is added to the system roots, not instead of them (an issuer behind a public CA
      // and a proxy with a corporate CA both keep working).
      if (opts.insecure) return makeDispatcher(env, { rejectUnauthorized: false });
      // NODE_EXTRA_CA_CERTS is read here, not by Node at start-up: the agent is started without it
      // (agentEnv), and each caller's own setting is the one that counts.
      const extra = await extraSystemCAs(opts.network ?? {});
      const ca = custom.length === 0 && extra.length === 0 ? undefined : [...rootCertificates, ...extra, ...custom];
      return makeDispatcher(env, ca ? { ca } : {});
    })();
    dispatcher.catch(() => (dispatcher = undefined));
    return dispatcher;
  };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const fetch: HttpFetch = async (url, init) => {
    const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const d = await dispatcherFor();
    let res: Response;
    try {
      res = (await undiciFetch(url, { ...(init as object), signal, dispatcher: d } as Parameters<typeof undiciFetch>[1])) as unknown as Response;
    } catch (err) {
      throw classifyFetchError(err, url);
    }
    return capped(res, url, MAX_RESPONSE_BYTES);
  };
  return { fetch, close: async () => (dispatcher ? (await dispatcher.catch(() => undefined))?.close() : undefined) };
}

function makeDispatcher(env: Env, tls: { ca?: string[]; rejectUnauthorized?: boolean }): Dispatcher {
  const pick = (a: string, b: string) => env[a] || env[b] || undefined;
  const httpsProxy = pick('HTTPS_PROXY', 'https_proxy');
  const httpProxy = pick('HTTP_PROXY', 'http_proxy');
  return httpsProxy || httpProxy
    ? new EnvHttpProxyAgent({
        ...(httpProxy ? { httpProxy } : {}),
        ...(httpsProxy ? { httpsProxy } : {}),
        noProxy: pick('NO_PROXY', 'no_proxy') ?? '',
        connect: tls,
        requestTls: tls,
      })
    : new Agent({ connect: tls, keepAliveTimeout: 4_000 });
}

/**
 * The response with a body that errors once it passes `max` bytes (refused up front when its
 * Content-Length says so). Reading stops there: the rest is never buffered.
 */
export function capped(res: Response, url: string, max: number): Response {
  const tooLarge = () =>
    new OidcError('E_ISSUER_RESPONSE', `the answer from ${safeOrigin(url)} is larger than ${max >= 1024 * 1024 ? `${max / (1024 * 1024)} MiB` : `${max} bytes`}; refusing to read it`, {
      hint: 'check the issuer URL and the issuer: real discovery, key set and token answers are a few KiB',
    });
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (length > max) {
    void res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body || NULL_BODY_STATUSES.has(res.status)) return res;
  let seen = 0;
  const limit = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > max) controller.error(tooLarge());
      else controller.enqueue(chunk);
    },
  });
  const out = new Response(res.body.pipeThrough(limit), { status: res.status, statusText: res.statusText, headers: res.headers });
  // openid-client reads the final URL of some answers; a constructed Response has none.
  Object.defineProperty(out, 'url', { value: res.url });
  return out;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

/** Turn undici's "fetch failed" (the real reason is in the cause chain) into a coded, one-line error. */
function classifyFetchError(err: unknown, url: string): OidcError {
  const origin = safeOrigin(url);
  const unreachable = (why: string) => new OidcError('E_ISSUER_UNREACHABLE', `cannot reach ${origin}: ${why}`, { cause: err, hint: 'check the issuer URL, your network and proxy settings' });
  const found = findCause(err, (e): OidcError | undefined => {
    const code = (e as { code?: unknown }).code;
    const name = (e as { name?: unknown }).name;
    if (typeof code === 'string' && TLS_CODES.has(code)) {
      return new OidcError('E_TLS', `TLS verification of ${origin} failed: ${code}`, {
        cause: err,
        hint: 'if the issuer uses a private CA, pass it with --certificate-authority=FILE or --certificate-authority-data=BASE64',
      });
    }
    if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return unreachable('timed out');
    if (name === 'AbortError') return new OidcError('E_ISSUER_UNREACHABLE', `request to ${origin} was cancelled`, { cause: err });
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) return unreachable(code);
    return undefined;
  });
  return found ?? unreachable((err as Error)?.message ?? String(err));
}

/**
 * The error for an issuer endpoint that answered with a non-2xx status: 5xx and 429 mean the
 * issuer is there but failing for now (transient), anything else is an answer we cannot use.
 */
export const UNAVAILABLE_HINT = 'the issuer is failing for now; the next try will succeed once it is back';

export function httpStatusError(status: number, what: string, url: string): OidcError {
  if (status >= 500 || status === 429) {
    return new OidcError('E_ISSUER_UNAVAILABLE', `${what} failed: HTTP ${status} from ${safeOrigin(url)}`, {
      hint: UNAVAILABLE_HINT,
    });
  }
  return new OidcError('E_ISSUER_RESPONSE', `${what} failed: HTTP ${status} from ${safeOrigin(url)}`, { hint: 'check --oidc-issuer-url and the issuer' });
}

function safeOrigin(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}
