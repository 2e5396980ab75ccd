import * as oc from 'openid-client';
import { OidcError, oidcCause } from '../errors.js';
import { printable as clean } from '../log.js';
import { audiencesFor, scopesFor, type ProviderConfig } from './provider.js';
import { UNAVAILABLE_HINT, createHttp, type Env, type Http } from './http.js';
import { createKeyCache, type KeyCache } from './keys.js';
import { IAT_SKEW_SEC, verifyIdToken, type VerifiedIdToken } from './verify.js';

/**
 * The OIDC protocol against one issuer and client: discovery, the authorization URL, the code
 * exchange, the refresh grant and ID-token verification. No browser, no listener, no text for
 * people beyond error messages: that is lib/login. Loaded lazily (dist/oidc.cjs) with openid-client,
 * jose and undici.
 */

/** What every issuer request carries: the caller's network settings (proxies) and a signal that bounds it. */
export interface Call {
  network: Env;
  signal: AbortSignal;
}

/** A token endpoint's answer, before verification: the refresh token in it must be kept whatever happens next. */
export interface GrantResponse {
  idToken?: string;
  refreshToken?: string;
  accessToken?: string;
  /** The access token's lifetime in seconds, as the token endpoint said. */
  expiresIn?: number;
  /**
   * The answer was refused (malformed) after the issuer had already spent the old refresh token:
   * raise this once `refreshToken` is saved.
   */
  rejected?: OidcError;
}

export interface AuthorizationParams {
  redirectUri: string;
  state: string;
  nonce: string;
  /** Absent when PKCE is off (--oidc-pkce-method=no, or auto with an issuer that lists no S256). */
  codeChallenge?: string;
  /** --oidc-auth-request-extra-params; they never override the parameters above. */
  extra?: Record<string, string>;
}

export interface IssuerClient {
  readonly issuerUrl: string;
  /** --insecure-skip-tls-verify: every login says so. */
  readonly insecure: boolean;
  authorizationUrl(p: AuthorizationParams, call: Call): Promise<string>;
  /** What discovery says this issuer supports. */
  capabilities(call: Call): Promise<{ callbackIss: boolean; pkceS256: boolean | undefined; deviceCode: boolean }>;
  /** The device authorization grant (RFC 8628): start it, then poll until the person approves (or the signal ends it). */
  deviceAuthorization(call: Call): Promise<DeviceAuthorization>;
  pollDevice(d: DeviceAuthorization, call: Call): Promise<GrantResponse>;
  /** The resource owner password grant (Dex's password connector). */
  passwordGrant(username: string, password: string, call: Call): Promise<GrantResponse>;
  /** The client credentials grant (a confidential client's own token); `extra`: kubelogin's endpoint parameters. */
  clientCredentialsGrant(extra: Record<string, string>, call: Call): Promise<GrantResponse>;
  /** The code grant; its answer is verified by the caller with `verify` (the nonce is the login's). */
  exchangeCode(p: { code: string; redirectUri: string; codeVerifier?: string }, call: Call): Promise<GrantResponse>;
  /** Spends `refreshToken`. A 4xx answer is E_REFRESH_REJECTED, whatever its body (some issuers send none). */
  refreshGrant(refreshToken: string, call: Call): Promise<GrantResponse>;
  verify(idToken: string, opts: { nonce?: string }, call: Call): Promise<VerifiedIdToken>;
  /**
   * RFC 7009 revocation of a refresh token at the discovered `revocation_endpoint` (a public client
   * sends its client_id, a confidential one authenticates). 'unsupported' when discovery names none.
   */
  revoke(refreshToken: string, call: Call): Promise<'revoked' | 'unsupported'>;
  close(): Promise<void>;
}

export interface DeviceAuthorization {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresIn: number;
  /** openid-client's own response object, handed back to pollDevice (which polls at its interval). */
  raw: unknown;
}

export interface IssuerDeps {
  /** The custom CA certificates (PEM), read once when the session's identity was computed. */
  cas: readonly string[];
  now(): number;
  createHttp?: typeof createHttp;
}

/** HTTP clients per network setting, for a session used from shells with different proxy variables. Few, and capped. */
const MAX_HTTP_CLIENTS = 4;
/**
 * Each request to the issuer is bounded by this. KUBECTL_OIDC_HTTP_TIMEOUT_MS (read by the agent at
 * start, for tests of a slow issuer; documented in README.md) may only shorten it.
 */
const REQUEST_TIMEOUT_MS = Math.min(30_000, Math.max(100, Number(process.env.KUBECTL_OIDC_HTTP_TIMEOUT_MS) || 30_000));

export function createIssuerClient(provider: ProviderConfig, deps: IssuerDeps): IssuerClient {
  const https = new Map<string, Http>();
  const makeHttp = deps.createHttp ?? createHttp;
  const httpFor = (network: Env): Http => {
    // One HTTP client per set of the caller's network settings: proxies, and the extra CAs it trusts.
    const id = JSON.stringify(Object.entries(network).filter(([k]) => /proxy/i.test(k) || k === 'NODE_EXTRA_CA_CERTS').sort());
    let h = https.get(id);
    if (h) {
      https.delete(id); // most recently used last
    } else {
      h = withHeaders(makeHttp({ cas: deps.cas, network, timeoutMs: REQUEST_TIMEOUT_MS, insecure: provider.insecureSkipTlsVerify }));
      while (https.size >= MAX_HTTP_CLIENTS) {
        const [oldId, old] = https.entries().next().value!;
        https.delete(oldId);
        void old.close().catch(() => {});
      }
    }
    https.set(id, h);
    return h;
  };
  /** openid-client takes one fetch per Configuration; this one carries the call's network and signal. */
  const fetchFor = (call: Call): oc.CustomFetch => {
    const http = httpFor(call.network);
    return (url, init) => http.fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, call.signal]) : call.signal });
  };
  /**
   * --oidc-request-header on every request to the issuer: wrapped around each HTTP client, so that
   * openid-client's requests (discovery, token, device, revocation) and the key set fetch all carry
   * them. The protocol's own headers (Content-Type, the client's Authorization) are never replaced.
   */
  const extraHeaders = Object.entries(provider.requestHeaders ?? {});
  const withHeaders = (h: Http): Http => {
    if (extraHeaders.length === 0) return h;
    return {
      fetch: (url, init) => {
        const headers = new Headers(init.headers);
        for (const [k, v] of extraHeaders) if (!headers.has(k)) headers.set(k, v);
        return h.fetch(url, { ...init, headers });
      },
      close: () => h.close(),
    };
  };
  const clientMetadata = provider.clientSecret ? { client_secret: provider.clientSecret } : undefined;
  const clientAuth = () => (provider.clientSecret ? undefined : oc.None());

  let discovered: Promise<{ meta: oc.ServerMetadata; keys: KeyCache }> | undefined;
  const discover = (call: Call) => {
    discovered ??= (async () => {
      let config: oc.Configuration;
      try {
        config = await oc.discovery(new URL(provider.issuerUrl), provider.clientId, clientMetadata, clientAuth(), {
          [oc.customFetch]: fetchFor(call),
          timeout: REQUEST_TIMEOUT_MS / 1000,
        });
      } catch (err) {
        throw issuerError(err, `discovery at ${provider.issuerUrl}`);
      }
      const meta = config.serverMetadata();
      if (!meta.jwks_uri) throw new OidcError('E_ISSUER_RESPONSE', `the issuer's discovery document has no jwks_uri`);
      for (const [name, value] of Object.entries({ authorization_endpoint: meta.authorization_endpoint, token_endpoint: meta.token_endpoint, jwks_uri: meta.jwks_uri })) {
        if (value !== undefined && !value.startsWith('https://')) {
          throw new OidcError('E_ISSUER_RESPONSE', `the issuer's ${name} is not https (${clean(value, 300)}); refusing to send credentials there`, { hint: 'fix the issuer configuration' });
        }
      }
      return { meta, keys: createKeyCache(meta.jwks_uri, { now: deps.now }) };
    })();
    // A failed discovery is retried on the next call, not remembered.
    discovered.catch(() => (discovered = undefined));
    return discovered;
  };
  /** A configuration for one call: the discovered metadata with this call's fetch. */
  const configFor = async (call: Call) => {
    const { meta, keys } = await discover(call);
    // openid-client checks the ID token's iat/exp/nbf too, with no tolerance by default: an issuer a
    // few minutes ahead would fail every grant before our own checks (which allow IAT_SKEW_SEC) run.
    const config = new oc.Configuration(meta, provider.clientId, { ...clientMetadata, [oc.clockTolerance]: IAT_SKEW_SEC }, clientAuth());
    config[oc.customFetch] = fetchFor(call);
    config.timeout = REQUEST_TIMEOUT_MS / 1000;
    return { config, meta, keys };
  };
  const grant = (r: oc.TokenEndpointResponse): GrantResponse => ({
    ...(r.id_token ? { idToken: r.id_token } : {}),
    ...(r.refresh_token ? { refreshToken: r.refresh_token } : {}),
    ...(r.access_token ? { accessToken: r.access_token } : {}),
    ...(typeof r.expires_in === 'number' ? { expiresIn: r.expires_in } : {}),
  });

  return {
    issuerUrl: provider.issuerUrl,
    insecure: provider.insecureSkipTlsVerify,
    async authorizationUrl(p, call) {
      const { config } = await configFor(call);
      return oc.buildAuthorizationUrl(config, {
        ...p.extra,
        redirect_uri: p.redirectUri,
        scope: scopesFor(provider).join(' '),
        state: p.state,
        nonce: p.nonce,
        ...(p.codeChallenge ? { code_challenge: p.codeChallenge, code_challenge_method: 'S256' } : {}),
      }).href;
    },

    async capabilities(call) {
      const { meta } = await discover(call);
      const methods = meta.code_challenge_methods_supported;
      return {
        callbackIss: meta.authorization_response_iss_parameter_supported === true,
        pkceS256: Array.isArray(methods) ? methods.includes('S256') : undefined,
        deviceCode: typeof meta.device_authorization_endpoint === 'string',
      };
    },

    async deviceAuthorization(call) {
      const { config } = await configFor(call);
      if (!config.serverMetadata().device_authorization_endpoint) {
        throw new OidcError('E_CONFIG', "the issuer's discovery document lists no device_authorization_endpoint", { hint: 'use --grant-type=authcode or authcode-keyboard' });
      }
      try {
        const r = await oc.initiateDeviceAuthorization(config, { scope: scopesFor(provider).join(' ') });
        return {
          // Shown on terminals, in messages to every waiting caller: made printable here, where it enters.
          userCode: clean(r.user_code, 100),
          verificationUri: r.verification_uri,
          ...(r.verification_uri_complete ? { verificationUriComplete: r.verification_uri_complete } : {}),
          expiresIn: r.expires_in,
          raw: r,
        };
      } catch (err) {
        throw issuerError(err, 'the device authorization request');
      }
    },

    async pollDevice(d, call) {
      const { config } = await configFor(call);
      try {
        // openid-client polls at the issuer's interval, keeps going through authorization_pending and backs off on slow_down.
        return grant(await oc.pollDeviceAuthorizationGrant(config, d.raw as oc.DeviceAuthorizationResponse, undefined, { signal: call.signal }));
      } catch (err) {
        const oauth = (err as { error?: unknown }).error;
        if (oauth === 'access_denied') throw new OidcError('E_LOGIN_FAILED', 'the device login was denied', { cause: err });
        if (oauth === 'expired_token') throw new OidcError('E_LOGIN_TIMEOUT', 'the device code expired before anyone approved it', { cause: err, hint: 'run the command again' });
        throw issuerError(err, 'the device code poll');
      }
    },

    async passwordGrant(username, password, call) {
      const { config } = await configFor(call);
      try {
        return grant(await oc.genericGrantRequest(config, 'password', { username, password, scope: scopesFor(provider).join(' ') }));
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && status >= 400 && status < 500) {
          const oauth = (err as { error?: unknown }).error;
          throw new OidcError('E_LOGIN_FAILED', `the issuer refused the password login${typeof oauth === 'string' ? ` (${clean(oauth)})` : ''}`, {
            cause: err,
            hint: 'check the username and password (KUBECTL_OIDC_PASSWORD), and that the client may use the password grant',
          });
        }
        throw issuerError(err, 'the password grant');
      }
    },

    async clientCredentialsGrant(extra, call) {
      if (!provider.clientSecret) {
        throw new OidcError('E_USAGE', 'the client-credentials grant needs the client secret', { hint: 'pass --oidc-client-secret-file=FILE or set KUBECTL_OIDC_CLIENT_SECRET' });
      }
      const { config } = await configFor(call);
      try {
        // kubelogin sends the extra scopes (no offline_access: there is nothing to refresh) and --oidc-auth-request-extra-params.
        const scope = provider.extraScopes.join(' ');
        return grant(await oc.clientCredentialsGrant(config, { ...extra, ...(scope ? { scope } : {}) }));
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && status >= 400 && status < 500) {
          const oauth = (err as { error?: unknown }).error;
          throw new OidcError('E_LOGIN_FAILED', `the issuer refused the client-credentials grant${typeof oauth === 'string' ? ` (${clean(oauth)})` : ` (HTTP ${status})`}`, {
            cause: err,
            hint: 'check the client ID and secret, and that the client may use the client_credentials grant',
          });
        }
        throw issuerError(err, 'the client-credentials grant');
      }
    },

    async exchangeCode(p, call) {
      const { config } = await configFor(call);
      try {
        // genericGrantRequest sends redirect_uri exactly as registered (authorizationCodeGrant would
        // normalise http://localhost:8000 to http://localhost:8000/, which Dex then rejects).
        return grant(await oc.genericGrantRequest(config, 'authorization_code', { code: p.code, redirect_uri: p.redirectUri, ...(p.codeVerifier ? { code_verifier: p.codeVerifier } : {}) }));
      } catch (err) {
        throw issuerError(err, 'the code exchange');
      }
    },

    async refreshGrant(refreshToken, call) {
      const { config } = await configFor(call);
      call.signal.throwIfAborted();
      // openid-client checks the answer (and its ID token's iss, aud, exp, iat) before it hands back
      // anything. By then the issuer has spent the old refresh token (Dex rotates): when it refuses
      // the answer, the new refresh token must still reach the session, which saves it first. So the
      // token endpoint's answer is kept aside here.
      let answer: Response | undefined;
      const fetchAnswer = config[oc.customFetch]!;
      config[oc.customFetch] = async (url, init) => {
        const res = await fetchAnswer(url, init);
        answer = res.clone();
        return res;
      };
      try {
        return grant(await oc.refreshTokenGrant(config, refreshToken));
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && status >= 400 && status < 500) {
          const oauth = (err as { error?: unknown }).error;
          const why = typeof oauth === 'string' ? clean(oauth) : `HTTP ${status}`;
          throw new OidcError('E_REFRESH_REJECTED', `the issuer refused the refresh token (${why}): it was revoked, expired or already used`, { cause: err });
        }
        const raw = answer?.ok ? await rawGrant(answer) : undefined;
        if (raw?.refreshToken === undefined) throw issuerError(err, 'refresh');
        // openid-client refused only the ID token's claims: our own verification (the session's next
        // step, after it has saved the refresh token) is the judge, and says why in its own words.
        if (raw.idToken !== undefined && isIdTokenCheck(err)) return raw;
        return { ...raw, rejected: issuerError(err, 'refresh') };
      }
    },

    async verify(idToken, opts, call) {
      const { keys } = await discover(call);
      const http = httpFor(call.network);
      return verifyIdToken(idToken, keys.resolver(http, call.signal), {
        issuer: provider.issuerUrl,
        audiences: audiencesFor(provider),
        clientId: provider.clientId,
        ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
        now: new Date(deps.now()),
      });
    },

    async revoke(refreshToken, call) {
      const { config, meta } = await configFor(call);
      const endpoint = meta.revocation_endpoint;
      if (!endpoint) return 'unsupported';
      if (!endpoint.startsWith('https://')) {
        throw new OidcError('E_ISSUER_RESPONSE', `the issuer's revocation_endpoint is not https (${clean(endpoint)}); refusing to send the refresh token there`);
      }
      call.signal.throwIfAborted();
      try {
        await oc.tokenRevocation(config, refreshToken, { token_type_hint: 'refresh_token' });
        return 'revoked';
      } catch (err) {
        const status = statusOf(err);
        if (status !== undefined && status >= 400 && status < 500) {
          const oauth = (err as { error?: unknown }).error;
          // Seen on real issuers: a 401 for a public client that the revocation endpoint wants authenticated.
          throw new OidcError('E_ISSUER_RESPONSE', `the issuer refused the revocation (${typeof oauth === 'string' ? clean(oauth) : `HTTP ${status}`})`, { cause: err });
        }
        throw issuerError(err, 'revocation');
      }
    },

    async close() {
      const all = [...https.values()];
      https.clear();
      await Promise.all(all.map((h) => h.close().catch(() => {})));
    },
  };
}

/** openid-client's failures that are about the ID token's claims (checked again, and reported, by lib/oidc/verify). */
function isIdTokenCheck(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' || code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' || (code === 'OAUTH_INVALID_RESPONSE' && /JWT|claim/.test((err as Error).message));
}

/** The token endpoint's 2xx answer as it came, for when openid-client refused it: only string fields, never thrown on. */
async function rawGrant(res: Response): Promise<GrantResponse | undefined> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  const idToken = str(b.id_token);
  const refreshToken = str(b.refresh_token);
  const accessToken = str(b.access_token);
  return {
    ...(idToken ? { idToken } : {}),
    ...(refreshToken ? { refreshToken } : {}),
    ...(accessToken ? { accessToken } : {}),
    ...(typeof b.expires_in === 'number' && Number.isFinite(b.expires_in) ? { expiresIn: b.expires_in } : {}),
  };
}

/** The HTTP status behind an openid-client error: its own field, its response, or a Response as its cause. */
function statusOf(err: unknown): number | undefined {
  const e = err as { status?: unknown; response?: { status?: unknown }; cause?: unknown };
  if (typeof e?.status === 'number') return e.status;
  if (typeof e?.response?.status === 'number') return e.response.status;
  const cause = e?.cause as { status?: unknown } | undefined;
  if (cause instanceof Response || (typeof cause?.status === 'number' && typeof (cause as { headers?: unknown }).headers === 'object')) return cause.status as number;
  return undefined;
}

function issuerError(err: unknown, what: string): OidcError {
  const inner = oidcCause(err);
  if (inner) return inner;
  const oauthError = (err as { error?: unknown }).error;
  if (typeof oauthError === 'string') {
    const desc = (err as { error_description?: unknown }).error_description;
    return new OidcError('E_ISSUER_RESPONSE', `the issuer answered ${what} with ${clean(oauthError)}${typeof desc === 'string' ? `: ${clean(desc)}` : ''}`, { cause: err });
  }
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) {
    return new OidcError('E_ISSUER_UNAVAILABLE', `the issuer failed ${what}: HTTP ${status}`, { cause: err, hint: UNAVAILABLE_HINT });
  }
  const message = clean((err as Error)?.message ?? String(err));
  if ((status !== undefined && status >= 200 && status < 300) || /parsing error/i.test(message)) {
    // A 2xx that is not the JSON we need (an HTML page, a cut body): say so, not just "HTTP 200".
    const why = /content-type/i.test(message) ? 'is not JSON' : /pars|JSON/i.test(message) ? 'is not valid JSON (garbled or cut short)' : `is not usable (${message})`;
    return new OidcError('E_ISSUER_RESPONSE', `the issuer's answer to ${what} ${why}${status !== undefined ? `: HTTP ${status}` : ''}`, {
      cause: err,
      hint: 'the issuer (or a proxy in between) sent something else than its OIDC answer; check --oidc-issuer-url and the issuer',
    });
  }
  const detail = status !== undefined ? `HTTP ${status}` : message;
  return new OidcError('E_ISSUER_RESPONSE', `the issuer's answer to ${what} is not usable: ${detail}`, {
    cause: err,
    hint: 'check --oidc-issuer-url: it must be the issuer URL exactly as the issuer reports it',
  });
}
