import type { IssuerClient } from '../oidc/issuer.js';
import type { TokenSet } from '../store/types.js';
import { OidcError } from '../errors.js';
import { present, raceSignal, type LoginIo, type LoginRequest } from './authcode.js';
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
  // --authentication-timeout-sec bounds the wait, as for the browser login: the issuer's device code
  // may live far longer (10 minutes is common), and nobody should wait that long for a login nobody does.
  const timeoutMs = req.ui.authenticationTimeoutSec * 1000;
  const stop = new AbortController();
  try {
    if (d.verificationUriComplete) {
      if (openBrowser) await present(d.verificationUriComplete, req, io, { what: `approve this device (code ${d.userCode})`, allowedOrigins: [issuer.issuerUrl], until: until.signal });
      else io.show(`To log in, open this URL on any device and approve code ${d.userCode} (within ${minutes} min):\n  ${printable(d.verificationUriComplete, 4000)}`);
    } else {
      if (openBrowser) await present(d.verificationUri, req, io, { what: `enter the code ${d.userCode}`, allowedOrigins: [issuer.issuerUrl], until: until.signal });
      else io.show(`To log in, open ${printable(d.verificationUri, 4000)} on any device and enter the code ${d.userCode} (within ${minutes} min)`);
    }
    const poll = issuer.pollDevice(d, { ...call, signal: AbortSignal.any([signal, stop.signal]) });
    poll.catch(() => {}); // abandoned on a timeout: its rejection is expected and unread
    const grant = await raceSignal(poll, signal, {
      ms: timeoutMs,
      error: () =>
        new OidcError('E_LOGIN_TIMEOUT', `nobody approved the device login within ${Math.round(timeoutMs / 1000)} s`, {
          hint: 'run the command again and approve the code in time (or raise --authentication-timeout-sec)',
        }),
    });
    return await tokensOf(issuer, grant, undefined, call);
  } finally {
    stop.abort();
    until.abort();
  }
}
