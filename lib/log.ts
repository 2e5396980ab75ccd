/**
 * Everything for people goes through here, with secrets scrubbed on the way out: JWTs, and
 * code/token/secret parameters in URLs or JSON. Callers should not log secrets at all; this is
 * the second line of defence.
 */
const JWT = /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
const PARAM = /\b(code|code_verifier|refresh_token|id_token|access_token|client_secret|device_code)=([^&\s"']+)/gi;
const JSON_FIELD = /"(refreshToken|idToken|token|refresh_token|id_token|access_token|clientSecret|client_secret)"\s*:\s*"[^"]*"/g;

export function redact(text: string): string {
  return text.replace(JWT, '[redacted-jwt]').replace(PARAM, '$1=[redacted]').replace(JSON_FIELD, '"$1":"[redacted]"');
}

/** Strip control characters and cap length: strings from an issuer end up on a terminal. */
export function printable(s: string, max = 200): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, max);
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
  error(err: unknown, context?: string): void;
}

export function createLogger(write: (line: string) => void, opts: { debug: boolean; timestamps?: boolean }): Logger {
  const emit = (level: string, msg: string) => {
    const prefix = opts.timestamps ? `${new Date().toISOString()} ${level} ` : '';
    write(`${prefix}${redact(msg)}\n`);
  };
  return {
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    debug: (m) => {
      if (opts.debug) emit('debug', m);
    },
    error: (err, context) => {
      const e = err as { code?: unknown; message?: unknown; stack?: unknown };
      const text = opts.debug && typeof e?.stack === 'string' ? e.stack : `${typeof e?.code === 'string' ? `${e.code}: ` : ''}${String(e?.message ?? err)}`;
      emit('error', context ? `${context}: ${text}` : text);
    },
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {}, error() {} };
