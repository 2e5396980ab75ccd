/**
 * Every failure the user can see carries a code from this union, a one-line message that says
 * what failed, and (where there is one) a hint that says what to do. Messages never contain a
 * token, an authorization code or a client secret.
 */
export type ErrorCode =
  | 'E_USAGE' // bad flags or arguments
  | 'E_EXEC_INFO' // malformed KUBERNETES_EXEC_INFO
  | 'E_CONFIG' // unreadable CA file, bad listen address, ...
  | 'E_ISSUER_UNREACHABLE' // DNS, connection refused, timeout
  | 'E_TLS' // certificate verification failed
  | 'E_ISSUER_RESPONSE' // the issuer answered with something we cannot use
  | 'E_ID_TOKEN_INVALID' // signature, iss, aud, exp, nonce, alg
  | 'E_LOGIN_FAILED' // the issuer's callback carried an error
  | 'E_LOGIN_TIMEOUT' // nobody completed the browser login in time
  | 'E_LOGIN_REQUIRED' // non-interactive caller and no usable session
  | 'E_REFRESH_REJECTED' // refresh token revoked, rotated away, expired
  | 'E_STORE' // token store unusable
  | 'E_KEYRING' // OS keyring unusable (storage=keyring)
  | 'E_SOCKET_DIR' // runtime dir has the wrong owner or mode
  | 'E_AGENT' // the agent could not be started or answered garbage
  | 'E_PROTOCOL' // a malformed frame
  | 'E_VERSION_MISMATCH' // agent and client of different versions
  | 'E_INTERNAL';

export class OidcError extends Error {
  override readonly name = 'OidcError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options?.hint;
  }
}

export function isOidcError(err: unknown, code?: ErrorCode): err is OidcError {
  return err instanceof Error && (err as { name?: unknown }).name === 'OidcError' && (code === undefined || (err as OidcError).code === code);
}

/** Exit codes: 1 for a failure, 2 for a usage error (as most CLIs), 3 when a login is needed but cannot happen here. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_USAGE':
    case 'E_EXEC_INFO':
      return 2;
    case 'E_LOGIN_REQUIRED':
      return 3;
    default:
      return 1;
  }
}
