import { OidcError } from '../errors.js';
import type { GrantType } from '../config.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { loginWithBrowser, type LoginIo, type LoginRequest } from './authcode.js';
import { loginWithDeviceCode } from './device.js';
import { loginWithKeyboard } from './keyboard.js';
import { loginWithPassword } from './password.js';
import { isWsl } from './browser.js';

export type { LoginIo, LoginRequest } from './authcode.js';

/** Can a browser open for this caller? A command was given, or the caller's session has a desktop. */
export function browserCanOpen(req: LoginRequest): boolean {
  if (req.ui.browserCommand || req.env.BROWSER) return true;
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  // WSL: wslview or explorer.exe opens the Windows browser, with or without an X server.
  return Boolean(req.env.DISPLAY || req.env.WAYLAND_DISPLAY) || isWsl();
}

/**
 * Which flow `--grant-type=auto` takes, and why: the browser when a person is at a terminal (or a
 * browser command was configured) and a browser can open; else the device code when the issuer
 * offers it; else nothing (a clear "login required" rather than a browser tab from a background tool).
 */
export async function chooseGrant(issuer: IssuerClient, req: LoginRequest, signal: AbortSignal): Promise<{ grant: Exclude<GrantType, 'auto'>; why: string }> {
  if (req.ui.grantType !== 'auto') return { grant: req.ui.grantType, why: `--grant-type=${req.ui.grantType}` };
  const canOpen = browserCanOpen(req) || req.ui.skipOpenBrowser;
  if (canOpen && (req.interactive || req.ui.browserCommand)) {
    return { grant: 'authcode', why: req.interactive ? 'you are at a terminal and a browser can open' : 'a --browser-command is configured' };
  }
  const caps = await issuer.capabilities({ network: req.env, signal });
  if (caps.deviceCode) {
    return { grant: 'device-code', why: canOpen ? 'kubectl is not interactive here (no terminal), and the issuer offers the device code grant' : 'no browser can open here (no DISPLAY, no BROWSER), and the issuer offers the device code grant' };
  }
  throw new OidcError('E_LOGIN_REQUIRED', `login required: ${canOpen ? 'kubectl is not interactive here' : 'no browser can open here'} and the issuer offers no device code grant`, {
    hint: 'run `kubectl oidc login` (with the same flags) in a terminal, or pass --grant-type=authcode-keyboard',
  });
}

/** One login, with the flow the caller asked for (or auto picked), said on the way. */
export async function login(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
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
  }
}
