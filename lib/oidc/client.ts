import * as oc from 'openid-client';
import type { JWTVerifyGetKey } from 'jose';
import { OidcError, isOidcError } from '../errors.js';
import type { TokenSet } from '../store/types.js';
import { createHttp, type Env, type Http } from './http.js';
import { remoteKeys, verifyIdToken } from './verify.js';
import { startLoopback } from './loopback.js';

export interface IssuerSettings {
  issuerUrl: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: readonly string[];
  caFiles: readonly string[];
  caData: readonly string[];
  /** The caller's proxy variables. */
  env?: Env;
}

export interface AuthCodeOptions {
  listenAddresses: readonly string[];
  /** Exactly as registered at the issuer; default `http://localhost:<port>` (kubelogin's). */
  redirectUrl?: string | undefined;
  timeoutMs: number;
  /** Show the URL (and open a browser unless told not to). */
  present(url: string): Promise<void>;
}

export interface Oidc {
  loginAuthCode(opts: AuthCodeOptions, signal: AbortSignal): Promise<TokenSet>;
  /** Throws E_REFRESH_REJECTED when the issuer refuses the refresh token (revoked, rotated away, expired). */
  refresh(current: TokenSet, signal: AbortSignal): Promise<TokenSet>;
  close(): Promise<void>;
}

export interface OidcDeps {
  now(): Date;
  createHttp?: typeof createHttp;
}

export function createOidc(settings: IssuerSettings, deps: OidcDeps): Oidc {
  const http: Http = (deps.createHttp ?? createHttp)({ caFiles: settings.caFiles, caData: settings.caData, env: settings.env ?? {} });
  let discovered: Promise<{ config: oc.Configuration; keys: JWTVerifyGetKey }> | undefined;

  const discover = () => {
    discovered ??= (async () => {
      let config: oc.Configuration;
      try {
        config = await oc.discovery(
          new URL(settings.issuerUrl),
          settings.clientId,
          settings.clientSecret ? { client_secret: settings.clientSecret } : undefined,
          settings.clientSecret ? undefined : oc.None(),
          { [oc.customFetch]: (url, init) => http.fetch(url, init), timeout: 30 },
        );
      } catch (err) {
        throw issuerError(err, `discovery at ${settings.issuerUrl}`);
      }
      const meta = config.serverMetadata();
      if (!meta.jwks_uri) throw new OidcError('E_ISSUER_RESPONSE', `the issuer's discovery document has no jwks_uri`);
      return { config, keys: remoteKeys(meta.jwks_uri, http.fetch) };
    })();
    // A failed discovery is retried on the next call, not remembered.
    discovered.catch(() => (discovered = undefined));
    return discovered;
  };

  const toTokenSet = async (
    resp: { id_token?: string | undefined; refresh_token?: string | undefined },
    keys: JWTVerifyGetKey,
    nonce: string | undefined,
    previous?: TokenSet,
  ): Promise<TokenSet> => {
    if (!resp.id_token) {
      // Some issuers answer a refresh without a new ID token (kubelogin#536). Keep the rotated refresh
      // token (the old one is spent) and the old ID token while it lasts; the caller decides what next.
      if (previous) return { ...previous, ...(resp.refresh_token ? { refreshToken: resp.refresh_token } : {}) };
      throw new OidcError('E_ISSUER_RESPONSE', 'the issuer returned no ID token', { hint: 'make sure the scope "openid" is allowed for this client' });
    }
    const v = await verifyIdToken(resp.id_token, keys, {
      issuer: settings.issuerUrl,
      clientId: settings.clientId,
      ...(nonce !== undefined ? { nonce } : {}),
      now: deps.now(),
    });
    const refreshToken = resp.refresh_token ?? previous?.refreshToken;
    return { idToken: resp.id_token, expiresAt: v.expiresAt, issuedAt: v.issuedAt, ...(refreshToken ? { refreshToken } : {}) };
  };

  return {
    async loginAuthCode(opts, signal) {
      const { config, keys } = await discover();
      const state = oc.randomState();
      const nonce = oc.randomNonce();
      const verifier = oc.randomPKCECodeVerifier();
      const challenge = await oc.calculatePKCECodeChallenge(verifier);
      const loopback = await startLoopback(opts.listenAddresses, state);
      try {
        const redirectUri = opts.redirectUrl ?? `http://localhost:${loopback.port}`;
        const url = oc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: settings.scopes.join(' '),
          state,
          nonce,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        });
        await opts.present(url.href);
        const { params, respond } = await raceAbort(loopback.callback, signal, opts.timeoutMs);
        try {
          const error = params.get('error');
          if (error) {
            const desc = params.get('error_description');
            throw new OidcError('E_LOGIN_FAILED', `the issuer refused the login: ${clean(error)}${desc ? ` (${clean(desc)})` : ''}`, {
              hint: 'check that your account may use this client, then try again',
            });
          }
          const iss = params.get('iss');
          if (iss !== null && iss !== settings.issuerUrl) throw new OidcError('E_LOGIN_FAILED', 'the login callback came from another issuer (iss mismatch)');
          const code = params.get('code');
          if (!code) throw new OidcError('E_LOGIN_FAILED', 'the login callback carried no authorization code');
          let resp: oc.TokenEndpointResponse;
          try {
            // genericGrantRequest sends redirect_uri exactly as registered (authorizationCodeGrant would
            // normalise http://localhost:8000 to http://localhost:8000/, which Dex then rejects).
            resp = await oc.genericGrantRequest(config, 'authorization_code', { code, redirect_uri: redirectUri, code_verifier: verifier });
          } catch (err) {
            throw issuerError(err, 'the code exchange');
          }
          const tokens = await toTokenSet(resp, keys, nonce);
          respond(true, 'You are logged in to kubectl. You can close this tab and return to the terminal.');
          return tokens;
        } catch (err) {
          respond(false, `${(err as Error).message}. Return to the terminal for details.`);
          throw err;
        }
      } finally {
        loopback.close();
      }
    },

    async refresh(current, signal) {
      if (!current.refreshToken) throw new OidcError('E_REFRESH_REJECTED', 'no refresh token (ask for the offline_access scope)');
      const { config, keys } = await discover();
      signal.throwIfAborted();
      let resp: oc.TokenEndpointResponse;
      try {
        resp = await oc.refreshTokenGrant(config, current.refreshToken);
      } catch (err) {
        const e = issuerError(err, 'refresh');
        if ((err as { error?: unknown }).error === 'invalid_grant') {
          throw new OidcError('E_REFRESH_REJECTED', 'the issuer rejected the refresh token (revoked, expired or already used)', { cause: err });
        }
        throw e;
      }
      return toTokenSet(resp, keys, undefined, current);
    },

    close: () => http.close(),
  };
}

/** Strip control characters and cap length: issuer error strings end up on a terminal. */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 200);
}

function issuerError(err: unknown, what: string): OidcError {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) if (isOidcError(e)) return e;
  const oauthError = (err as { error?: unknown }).error;
  if (typeof oauthError === 'string') {
    const desc = (err as { error_description?: unknown }).error_description;
    return new OidcError('E_ISSUER_RESPONSE', `the issuer answered ${what} with ${clean(oauthError)}${typeof desc === 'string' ? `: ${clean(desc)}` : ''}`, { cause: err });
  }
  const status = (err as { status?: unknown; response?: { status?: unknown } }).response?.status;
  const detail = typeof status === 'number' ? `HTTP ${status}` : clean((err as Error)?.message ?? String(err));
  return new OidcError('E_ISSUER_RESPONSE', `the issuer's answer to ${what} is not usable: ${detail}`, {
    cause: err,
    hint: 'check --oidc-issuer-url: it must be the issuer URL exactly as the issuer reports it',
  });
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new OidcError('E_LOGIN_TIMEOUT', `nobody completed the browser login within ${Math.round(timeoutMs / 1000)} s`, {
        hint: 'run the command again and finish the login in the browser (or raise --authentication-timeout-sec)',
      }));
    }, timeoutMs);
    const onAbort = () => reject(signal.reason ?? new OidcError('E_LOGIN_TIMEOUT', 'the login was cancelled'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}
