import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { present, type LoginIo, type LoginRequest } from './authcode.js';
import { tokensOf } from './grant.js';

/**
 * The device authorization grant (RFC 8628), for machines without a browser: the URL (and code) go
 * to every waiting caller's stderr before polling starts; a browser opens at it when asked to.
 */
export async function loginWithDeviceCode(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal, openBrowser: boolean): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const d = await issuer.deviceAuthorization(call);
  const minutes = Math.max(1, Math.round(d.expiresIn / 60));
  if (d.verificationUriComplete) {
    if (openBrowser) await present(d.verificationUriComplete, req, io, `approve this device (code ${d.userCode})`);
    else io.show(`To log in, open this URL on any device and approve code ${d.userCode} (within ${minutes} min):\n  ${d.verificationUriComplete}`);
  } else {
    if (openBrowser) await present(d.verificationUri, req, io, `enter the code ${d.userCode}`);
    else io.show(`To log in, open ${d.verificationUri} on any device and enter the code ${d.userCode} (within ${minutes} min)`);
  }
  const grant = await issuer.pollDevice(d, call);
  return tokensOf(issuer, grant, undefined, call);
}
