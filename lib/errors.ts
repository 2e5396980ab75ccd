/**
 * Every failure the user can see carries a code from this union, a one-line message that says
 * what failed, and (where there is one) a hint that says what to do. Messages never contain a
 * token, an authorization code or a client secret.
 */
const ERROR_CODES = [
  'E_USAGE', // bad flags or arguments
  'E_EXEC_INFO', // malformed KUBERNETES_EXEC_INFO
  'E_CONFIG', // unreadable CA file, bad listen address, ...
  'E_ISSUER_UNREACHABLE', // DNS, connection refused, timeout
  'E_ISSUER_UNAVAILABLE', // the issuer answered 5xx or 429: it is there but failing for now
  'E_TLS', // certificate verification failed
  'E_ISSUER_RESPONSE', // the issuer answered with something we cannot use
  'E_ID_TOKEN_INVALID', // signature, iss, aud, exp, nonce, alg
  'E_LOGIN_FAILED', // the issuer's callback carried an error
  'E_LOGIN_TIMEOUT', // nobody completed the browser login in time
  'E_LOGIN_REQUIRED', // non-interactive caller and no usable session
  'E_REFRESH_REJECTED', // refresh token revoked, rotated away, expired
  'E_STORE', // token store unusable
  'E_KEYRING', // OS keyring unusable (storage=keyring)
  'E_SOCKET_DIR', // runtime dir has the wrong owner or mode
  'E_AGENT', // the agent could not be started or answered garbage
  'E_PROTOCOL', // a malformed frame
  'E_VERSION_MISMATCH', // agent and client of different versions
  'E_INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

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

/** The first error in `err`'s cause chain that `pick` accepts (undici and jose hide the real reason in causes). */
export function findCause<T>(err: unknown, pick: (e: unknown) => T | undefined, depth = 8): T | undefined {
  for (let e: unknown = err, i = 0; e && i < depth; e = (e as { cause?: unknown }).cause, i++) {
    const found = pick(e);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The first OidcError in the cause chain: an inner, already classified failure wins over a generic wrapper. */
export function oidcCause(err: unknown): OidcError | undefined {
  return findCause(err, (e) => (isOidcError(e) ? e : undefined));
}

/** Failures that the next try may not meet: the issuer is down, slow or overloaded. A refresh token is kept through them. */
export function isTransient(err: unknown): boolean {
  const e = oidcCause(err);
  return e?.code === 'E_ISSUER_UNREACHABLE' || e?.code === 'E_ISSUER_UNAVAILABLE';
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
