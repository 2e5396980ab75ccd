/**
 * Text from an issuer (claims, device codes, URLs, error strings, endpoint values) is made printable
 * here, once, where it enters: before any message, log line or YAML is built from it. A terminal
 * acts on C0/C1 controls (ESC starts ANSI and OSC sequences: colours, titles, OSC 8 links that show
 * one URL and open another, OSC 52 clipboard writes; U+009B is a one-byte CSI on some terminals),
 * CR and LF (a forged line in a log, an uncommented line in output meant to be copied), and bidi
 * controls reorder what is shown. Each of those is replaced by a visible escape (`\x1b`, `\n`,
 * `\u202e`), so the text stays one line and readable; lone surrogates become `\ud800`. Long values
 * are cut with `…`.
 *
 * No imports: the get-token client loads this file too (the agent log's tail).
 */

/** C0, DEL, C1; line/paragraph separators; bidi embeddings, overrides, isolates and marks; BOM; lone surrogates. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** The default cap: claims, codes and error strings longer than this are not worth a terminal. */
const PRINTABLE_MAX = 200;

/** `s` as one printable line: controls escaped, at most `max` characters (then `…`). */
export function printable(s: string, max = PRINTABLE_MAX): string {
  let out = s.replace(UNPRINTABLE, escapeOne);
  if (out.length > max) {
    out = out.slice(0, max);
    // Do not leave half a surrogate pair, or half an escape, at the cut.
    if (/[\ud800-\udbff]$/.test(out)) out = out.slice(0, -1);
    out = out.replace(/\\(?:x[0-9a-f]?|u[0-9a-f]{0,3}|)$/, '');
    out += '…';
  }
  return out;
}

/** True when `s` would print as itself (nothing to escape). */
export function isPrintable(s: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  const bad = UNPRINTABLE.test(s);
  UNPRINTABLE.lastIndex = 0;
  return !bad;
}

/**
 * Multi-line text that is ours but may carry issuer text (a log file's tail, a stack trace): each
 * line made printable on its own, the line breaks kept. `maxLine` caps each line.
 */
export function printableLines(s: string, maxLine = 500): string {
  return s
    .split(/\r?\n/)
    .map((line) => printable(line, maxLine))
    .join('\n');
}

/**
 * Our own multi-line text for a terminal (every stderr write goes through it, lib/log.ts redact):
 * line breaks and tabs stay, every other character printable() escapes is escaped, uncapped. The
 * second line of defence, behind printable() where issuer text enters.
 */
export function terminalSafe(s: string): string {
  return s.replace(UNPRINTABLE, (c) => (c === '\n' || c === '\t' ? c : escapeOne(c)));
}
