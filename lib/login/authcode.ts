import { createHash, randomBytes } from 'node:crypto';
import { OidcError } from '../errors.js';
import { printable as clean, type Logger } from '../log.js';
import type { PkceMethod, UiConfig } from '../flags/table.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { openBrowser as defaultOpenBrowser, openableUrl } from './browser.js';
import { printable } from '../printable.js';
import { startLoopback } from './loopback.js';
import { tokensOf } from './grant.js';

/** What one login needs from the caller that starts it: its UI settings, its environment (display, browser, proxies), its terminal. */
export interface LoginRequest {
  ui: UiConfig;
  env: Record<string, string>;
  /** kubectl's spec.interactive: a person is at a terminal (auto picks the browser flow only then). */
  interactive: boolean;
  /** Ask the person at the starting caller's terminal; null when there is none. */
  prompt(message: string, secret: boolean): Promise<string | null>;
}

export interface LoginIo {
  /** Tell every caller waiting on this login (the URL, what went wrong with the browser). */
  show(message: string): void;
  log: Logger;
  openBrowser?: typeof defaultOpenBrowser;
}

export const random = () => randomBytes(32).toString('base64url');

/**
 * The browser login: authorization code with PKCE (S256) through a loopback listener. Owns the
 * listener, the browser and the words the person sees; the protocol is the issuer client's.
 */
export async function loginWithBrowser(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const caps = await issuer.capabilities(call);
  const pkce = pkceFor(req.ui.pkceMethod, caps.pkceS256);
  const state = random();
  const nonce = random();
  const timeoutMs = req.ui.authenticationTimeoutSec * 1000;
  const tls = req.ui.localServerCert && req.ui.localServerKey ? { cert: req.ui.localServerCert, key: req.ui.localServerKey } : undefined;
  const host = req.ui.redirectHostname ?? 'localhost';
  const bothLoopbacks = req.ui.redirectUrl === undefined ? host === 'localhost' : isLocalhost(req.ui.redirectUrl);
  const onForeignCallback = () => {
    io.show('kubectl-oidc: warning: a browser that did not open this login\'s link sent a login callback; it was refused (someone on this machine may be trying to log you in as them)');
    io.log.warn('refused a login callback from a browser that did not open the login link');
  };
  const loopback = await startLoopback(req.ui.listenAddress, state, { bothLoopbacks, onForeignCallback, ...(tls ? { tls } : {}) });
  const ended = new AbortController();
  try {
    const redirectUri = req.ui.redirectUrl ?? `${loopback.scheme}://${host}:${loopback.port}`;
    const url = await issuer.authorizationUrl({ redirectUri, state, nonce, ...(pkce ? { codeChallenge: pkce.challenge } : {}), extra: req.ui.authRequestExtraParams }, call);
    // Both the browser and the person get only the one-time link (on the redirect URI's host, so
    // its cookie comes back with the callback): whoever opens it first is the only one who can
    // finish this login, and a second open ends it.
    const link = loopback.oneTimeUrl(url, redirectUri);
    await present(link, req, io, { what: 'log in', allowedOrigins: [link], until: ended.signal });
    const { params, respond } = await raceSignal(loopback.callback, signal, {
      ms: timeoutMs,
      error: () =>
        new OidcError('E_LOGIN_TIMEOUT', `nobody completed the browser login within ${Math.round(timeoutMs / 1000)} s`, {
          hint: 'run the command again and finish the login in the browser (or raise --authentication-timeout-sec)',
        }),
    });
    try {
      const error = params.get('error');
      if (error) {
        const desc = params.get('error_description');
        throw new OidcError('E_LOGIN_FAILED', `the issuer refused the login: ${clean(error)}${desc ? ` (${clean(desc)})` : ''}`, {
          hint: 'check that your account may use this client, then try again',
        });
      }
      const iss = params.get('iss');
      // RFC 9207: one agent serves several issuers, so a callback must prove which one it is from.
      if (iss === null ? caps.callbackIss : iss !== issuer.issuerUrl) throw new OidcError('E_LOGIN_FAILED', 'the login callback came from another issuer (iss mismatch)');
      const code = params.get('code');
      if (!code) throw new OidcError('E_LOGIN_FAILED', 'the login callback carried no authorization code');
      const grant = await issuer.exchangeCode({ code, redirectUri, ...(pkce ? { codeVerifier: pkce.verifier } : {}) }, call);
      const tokens = await tokensOf(issuer, grant, nonce, call);
      respond(true, 'You are logged in to kubectl. You can close this tab and return to the terminal.', req.ui.openUrlAfterAuthentication);
      return tokens;
    } catch (err) {
      respond(false, `${(err as Error).message}. Return to the terminal for details.`);
      throw err;
    }
  } finally {
    ended.abort();
    loopback.close();
  }
}

/** PKCE S256, unless turned off, or `auto` and the issuer lists methods without S256 (kubelogin's rule). */
export function pkceFor(method: PkceMethod, issuerListsS256: boolean | undefined): { verifier: string; challenge: string } | undefined {
  if (method === 'no' || (method === 'auto' && issuerListsS256 === false)) return undefined;
  const verifier = random();
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}


function isLocalhost(url: string): boolean {
  try {
    return new URL(url).hostname === 'localhost';
  } catch {
    return false;
  }
}

/**
 * Show `url` to every waiting caller and, unless told not to, open the browser at it. `url` must be
 * on one of `allowedOrigins` (our login link, or the issuer) to be opened; anything else is only
 * shown, escaped, with the reason. The browser starts on a private page that forwards to `url`,
 * so no other local user can read `url` in its command line (lib/login/browser.ts).
 */
export async function present(url: string, req: LoginRequest, io: LoginIo, opts: { what: string; allowedOrigins: readonly string[]; until?: AbortSignal }): Promise<void> {
  const { what } = opts;
  const shown = printable(url, 4000);
  if (req.ui.skipOpenBrowser) {
    io.show(`Open this URL in your browser to ${what}:\n  ${shown}`);
    return;
  }
  const checked = openableUrl(url, opts.allowedOrigins);
  if (!checked.ok) {
    io.show(`Not opening a browser at the issuer's URL: ${checked.why}. Open it yourself only if you trust it, to ${what}:\n  ${shown}`);
    io.log.warn(`not opening the browser: the URL ${checked.why}`);
    return;
  }
  io.show(`Opening your browser to ${what}. If it does not open, visit:\n  ${shown}`);
  io.log.info(`opening the browser to ${what}`);
  const open = io.openBrowser ?? defaultOpenBrowser;
  await open(checked.url, { command: req.ui.browserCommand, env: { ...process.env, ...req.env }, allowedOrigins: opts.allowedOrigins, ...(opts.until ? { until: opts.until } : {}) }).catch((err: Error) => {
    io.show(`Could not open a browser (${clean(err.message)}). Open this URL yourself:\n  ${shown}`);
  });
}

/**
 * `p`, unless the login is cancelled (`signal`) or, with `timeout`, takes too long: every wait of a
 * login (the callback, a prompt at the terminal) is bounded this one way.
 */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal, timeout?: { ms: number; error(): OidcError }): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new OidcError('E_LOGIN_TIMEOUT', 'the login was cancelled'));
    if (signal.aborted) return onAbort();
    const timer = timeout && setTimeout(() => reject(timeout.error()), timeout.ms);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    });
  });
}
