import { OidcError } from '../errors.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { tokensOf } from './grant.js';
import { raceSignal, type LoginRequest } from './authcode.js';

/**
 * The resource owner password grant, for CI with Dex's password connector. The password comes from
 * KUBECTL_OIDC_PASSWORD (or --password, with a warning: argv is visible to ps), else a prompt with
 * echo off at the terminal of the command that started the login.
 */
export async function loginWithPassword(issuer: IssuerClient, req: LoginRequest, signal: AbortSignal): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const username = req.ui.username ?? (await raceSignal(req.prompt('Username: ', false), signal))?.trim();
  const password = req.ui.password ?? (username ? await raceSignal(req.prompt('Password: ', true), signal) : null);
  if (!username || !password) {
    throw new OidcError('E_LOGIN_REQUIRED', 'login required: the password grant needs a username and a password, and there is no terminal to ask', {
      hint: 'set --username and KUBECTL_OIDC_PASSWORD, or run the command in a terminal',
    });
  }
  const grant = await issuer.passwordGrant(username, password, call);
  return tokensOf(issuer, grant, undefined, call);
}
