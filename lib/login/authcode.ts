import { createHash, randomBytes } from 'node:crypto';
import { OidcError } from '../errors.js';
import { printable as clean, type Logger } from '../log.js';
import type { UiConfig } from '../config.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { openBrowser as defaultOpenBrowser } from './browser.js';
import { startLoopback } from './loopback.js';

/** What one login needs from the caller that starts it: its UI settings and its environment (display, browser, proxies). */
export interface LoginRequest {
  ui: UiConfig;
  env: Record<string, string>;
}

export interface LoginIo {
  /** Tell every caller waiting on this login (the URL, what went wrong with the browser). */
  show(message: string): void;
  log: Logger;
  openBrowser?: typeof defaultOpenBrowser;
}

const random = () => randomBytes(32).toString('base64url');

/**
 * The browser login: authorization code with PKCE (S256) through a loopback listener. Owns the
 * listener, the browser and the words the person sees; the protocol is the issuer client's.
 */
export async function loginWithBrowser(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const state = random();
  const nonce = random();
  const verifier = random();
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const timeoutMs = req.ui.authenticationTimeoutSec * 1000;
  const bothLoopbacks = req.ui.redirectUrl === undefined || isLocalhost(req.ui.redirectUrl);
  const loopback = await startLoopback(req.ui.listenAddress, state, { bothLoopbacks });
  try {
    const redirectUri = req.ui.redirectUrl ?? `http://localhost:${loopback.port}`;
    const url = await issuer.authorizationUrl({ redirectUri, state, nonce, codeChallenge: challenge }, call);
    const requireIss = await issuer.requiresCallbackIss(call);
    await present(url, loopback.oneTimeUrl(url), req, io);
    const { params, respond } = await raceAbort(loopback.callback, signal, timeoutMs);
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
      if (iss === null ? requireIss : iss !== issuer.issuerUrl) throw new OidcError('E_LOGIN_FAILED', 'the login callback came from another issuer (iss mismatch)');
      const code = params.get('code');
      if (!code) throw new OidcError('E_LOGIN_FAILED', 'the login callback carried no authorization code');
      const grant = await issuer.exchangeCode({ code, redirectUri, codeVerifier: verifier }, call);
      if (!grant.idToken) throw new OidcError('E_ISSUER_RESPONSE', 'the issuer returned no ID token', { hint: 'make sure the scope "openid" is allowed for this client' });
      const v = await issuer.verify(grant.idToken, { nonce }, call);
      respond(true, 'You are logged in to kubectl. You can close this tab and return to the terminal.');
      return { idToken: grant.idToken, expiresAt: v.expiresAt, issuedAt: v.issuedAt, ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}) };
    } catch (err) {
      respond(false, `${(err as Error).message}. Return to the terminal for details.`);
      throw err;
    }
  } finally {
    loopback.close();
  }
}

function isLocalhost(url: string): boolean {
  try {
    return new URL(url).hostname === 'localhost';
  } catch {
    return false;
  }
}

/**
 * The person sees the issuer's URL (stderr is their own terminal, and it works even after the
 * browser spent the one-time link, for example a browser that opened on a display they cannot see);
 * the browser's command line, which every local user can read, gets only the one-time link.
 */
async function present(url: string, launchUrl: string, req: LoginRequest, io: LoginIo): Promise<void> {
  if (req.ui.skipOpenBrowser) {
    io.show(`Open this URL in your browser to log in:\n  ${url}`);
    return;
  }
  io.show(`Opening your browser to log in. If it does not open, visit:\n  ${url}`);
  io.log.info('opening the browser for a login');
  const open = io.openBrowser ?? defaultOpenBrowser;
  await open(launchUrl, { command: req.ui.browserCommand, env: { ...process.env, ...req.env } }).catch((err: Error) => {
    io.show(`Could not start a browser (${err.message}); open the URL above yourself.`);
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
