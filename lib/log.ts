/**
 * Everything for people goes through here, with secrets scrubbed on the way out: JWTs, and
 * code/token/secret parameters in URLs or JSON. Callers should not log secrets at all; this is
 * the second line of defence.
 */
import { printableLines, terminalSafe } from './printable.js';

const JWT = /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g;
const PARAM = /\b(code|code_verifier|refresh_token|id_token|access_token|client_secret|device_code)=([^&\s"']+)/gi;
const JSON_FIELD = /"(refreshToken|idToken|token|refresh_token|id_token|access_token|clientSecret|client_secret)"\s*:\s*"[^"]*"/g;

/** Secrets scrubbed, and no character a terminal would act on (escape sequences, CR) left as is. */
export function redact(text: string): string {
  return terminalSafe(text.replace(JWT, '[redacted-jwt]').replace(PARAM, '$1=[redacted]').replace(JSON_FIELD, '"$1":"[redacted]"'));
}

export { printable } from './printable.js';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
  error(err: unknown, context?: string): void;
}

export function createLogger(write: (line: string) => void, opts: { debug: boolean; timestamps?: boolean }): Logger {
  const emit = (level: string, msg: string) => {
    const prefix = opts.timestamps ? `${new Date().toISOString()} ${level} ` : '';
    // One record per call: no control character reaches the file or terminal, and the lines after
    // the first (a stack trace) are indented, so no text inside a message can pass for a record.
    write(`${prefix}${printableLines(redact(msg), 2_000).replace(/\n/g, '\n  ')}\n`);
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
