import { OidcError } from '../errors.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { pkceFor, raceSignal, random, type LoginIo, type LoginRequest } from './authcode.js';
import { tokensOf } from './grant.js';

/**
 * Authorization code "with a keyboard", for a browser that cannot reach this machine's loopback
 * (SSH): the issuer shows the code on a page (redirect urn:ietf:wg:oauth:2.0:oob, which Dex supports)
 * and the person pastes it at the terminal of the command that started the login (/dev/tty).
 */
export async function loginWithKeyboard(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const caps = await issuer.capabilities(call);
  const pkce = pkceFor(req.ui.pkceMethod, caps.pkceS256);
  const nonce = random();
  const redirectUri = req.ui.keyboardRedirectUrl;
  const url = await issuer.authorizationUrl({ redirectUri, state: random(), nonce, ...(pkce ? { codeChallenge: pkce.challenge } : {}), extra: req.ui.authRequestExtraParams }, call);
  io.show(`Open this URL in a browser, log in, and paste the code it shows:\n  ${url}`);
  const code = (await raceSignal(req.prompt('Enter code: ', false), signal))?.trim();
  if (!code) {
    throw new OidcError('E_LOGIN_REQUIRED', 'login required: no code was entered (the keyboard login needs a terminal)', {
      hint: 'run `kubectl oidc login` with the same flags in a terminal',
    });
  }
  const grant = await issuer.exchangeCode({ code, redirectUri, ...(pkce ? { codeVerifier: pkce.verifier } : {}) }, call);
  return tokensOf(issuer, grant, nonce, call);
}
