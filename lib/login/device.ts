import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { present, type LoginIo, type LoginRequest } from './authcode.js';
import { tokensOf } from './grant.js';
import { printable } from '../printable.js';

/**
 * The device authorization grant (RFC 8628), for machines without a browser: the URL (and code) go
 * to every waiting caller's stderr before polling starts; a browser opens at it when asked to.
 */
export async function loginWithDeviceCode(issuer: IssuerClient, req: LoginRequest, io: LoginIo, signal: AbortSignal, openBrowser: boolean): Promise<TokenSet> {
  const call = { network: req.env, signal };
  const d = await issuer.deviceAuthorization(call);
  const minutes = Math.max(1, Math.round(d.expiresIn / 60));
  // The issuer's URLs are untrusted text: opened only when on the issuer's own https origin
  // (present checks), shown escaped in any case. userCode came printable from the issuer client.
  const until = new AbortController();
  try {
    if (d.verificationUriComplete) {
      if (openBrowser) await present(d.verificationUriComplete, req, io, { what: `approve this device (code ${d.userCode})`, allowedOrigins: [issuer.issuerUrl], until: until.signal });
      else io.show(`To log in, open this URL on any device and approve code ${d.userCode} (within ${minutes} min):\n  ${printable(d.verificationUriComplete, 4000)}`);
    } else {
      if (openBrowser) await present(d.verificationUri, req, io, { what: `enter the code ${d.userCode}`, allowedOrigins: [issuer.issuerUrl], until: until.signal });
      else io.show(`To log in, open ${printable(d.verificationUri, 4000)} on any device and enter the code ${d.userCode} (within ${minutes} min)`);
    }
    const grant = await issuer.pollDevice(d, call);
    return await tokensOf(issuer, grant, undefined, call);
  } finally {
    until.abort();
  }
}
