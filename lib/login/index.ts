import { OidcError } from '../errors.js';
import type { GrantType } from '../flags/table.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { loginWithBrowser, type LoginIo, type LoginRequest } from './authcode.js';
import { loginWithDeviceCode } from './device.js';
import { loginWithKeyboard } from './keyboard.js';
import { loginWithPassword } from './password.js';
import { loginWithClientCredentials } from './client-credentials.js';
import { isWsl } from './browser.js';

export type { LoginIo, LoginRequest } from './authcode.js';

/** Can a browser open for this caller? A command was given, or the caller's session has a desktop. */
function browserCanOpen(req: LoginRequest): boolean {
  if (req.ui.browserCommand || req.env.BROWSER) return true;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  // WSL: wslview or explorer.exe opens the Windows browser, with or without an X server.
  return Boolean(req.env.DISPLAY || req.env.WAYLAND_DISPLAY) || isWsl();
}

/** Where to send people who must log in elsewhere. */
const LOGIN_HINT = 'run `kubectl oidc login` (with the same flags, or --context=NAME) in a terminal, then run this again';

/**
 * Which flow `--grant-type=auto` takes, and why:
 * - a browser that can open (a display, $BROWSER or --browser-command; not --skip-open-browser):
 *   the browser login, even for a caller that is not interactive (an IDE, k9s on a desktop), as
 *   kubelogin does: the person sees the tab, and the session's cool-down keeps a background tool
 *   from opening more than one;
 * - no such browser, and a person at a terminal: the URL printed (--skip-open-browser), else the
 *   device code when the issuer offers it;
 * - no such browser and nobody at a terminal (spec.interactive false, no TTY): nobody could see a
 *   URL or a code, so "login required" at once, before any request to the issuer, rather than a
 *   login that waits minutes for nobody.
 */
export async function chooseGrant(issuer: IssuerClient, req: LoginRequest, signal: AbortSignal): Promise<{ grant: Exclude<GrantType, 'auto'>; why: string }> {
  if (req.ui.grantType !== 'auto') return { grant: req.ui.grantType, why: `--grant-type=${req.ui.grantType}` };
  const browser = !req.ui.skipOpenBrowser && browserCanOpen(req);
  if (browser) {
    return { grant: 'authcode', why: req.interactive ? 'you are at a terminal and a browser can open' : req.ui.browserCommand ? 'a --browser-command is configured' : 'a browser can open here' };
  }
  if (!req.interactive) {
    const noBrowser = req.ui.skipOpenBrowser ? '--skip-open-browser is set' : 'no browser can open here (no DISPLAY, WAYLAND_DISPLAY or BROWSER)';
    throw new OidcError('E_LOGIN_REQUIRED', `login required: run \`kubectl oidc login\` (kubectl is not interactive here and ${noBrowser})`, { hint: LOGIN_HINT });
  }
  if (req.ui.skipOpenBrowser) return { grant: 'authcode', why: '--skip-open-browser: the URL is printed for you to open' };
  const caps = await issuer.capabilities({ network: req.env, signal });
  if (caps.deviceCode) return { grant: 'device-code', why: 'no browser can open here (no DISPLAY, no BROWSER), and the issuer offers the device code grant' };
  throw new OidcError('E_LOGIN_REQUIRED', 'login required: no browser can open here and the issuer offers no device code grant', {
    hint: 'run `kubectl oidc login` where a browser can open, or pass --grant-type=authcode-keyboard or --skip-open-browser',
  });
}

/** One login, with the flow the caller asked for (or auto picked), said on the way. */
export async function login(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
  try {
    return await loginWith(issuer, req, io, signal);
  } catch (err) {
    // The caller's backstop (a little after --authentication-timeout-sec) ended a login still busy,
    // say on a slow issuer: say that, not the runtime's "The operation was aborted due to timeout".
    if (signal.aborted && (signal.reason as { name?: unknown } | undefined)?.name === 'TimeoutError' && !(err instanceof OidcError && err.code === 'E_LOGIN_TIMEOUT')) {
      throw new OidcError('E_LOGIN_TIMEOUT', `the login did not finish within ${req.ui.authenticationTimeoutSec} s`, {
        cause: err,
        hint: 'run the command again (or raise --authentication-timeout-sec)',
      });
    }
    throw err;
  }
}

async function loginWith(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
  if (issuer.insecure) {
    io.show('kubectl-oidc: WARNING: --insecure-skip-tls-verify is set: the issuer\'s certificate is not checked, so anyone on the network path can pose as it and get your credentials');
  }
  const { grant, why } = await chooseGrant(issuer, req, signal);
  if (req.ui.grantType === 'auto' && grant !== 'authcode') io.show(`kubectl-oidc: logging in with the ${grant} flow: ${why}`);
  io.log.info(`login with ${grant} (${why})`);
  switch (grant) {
    case 'authcode':
      return loginWithBrowser(issuer, req, io, signal);
    case 'authcode-keyboard':
      return loginWithKeyboard(issuer, req, io, signal);
    case 'device-code':
      return loginWithDeviceCode(issuer, req, io, signal, req.ui.grantType === 'device-code' && !req.ui.skipOpenBrowser);
    case 'password':
      return loginWithPassword(issuer, req, signal);
    case 'client-credentials':
      return loginWithClientCredentials(issuer, req, signal);
  }
}
