import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OidcError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util's parseArgs with its long messages cut to the part a person needs, as one E_USAGE
 * error. Every command parses its flags through here.
 */
export function parseFlags<O extends Options>(argv: string[], options: O, helpHint: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new OidcError('E_USAGE', cleanParseError(err), { hint: helpHint });
  }
}

/**
 * parseArgs's message in one line: its first sentence ("… argument is ambiguous.\nDid you forget …"
 * ends with a newline, not a space), with any control character in a quoted argument escaped.
 */
function cleanParseError(err: unknown): string {
  const msg = (err as Error).message.split(/\.\s/)[0] || 'bad arguments';
  return oneLine(
    msg
      .replace(/^Unknown option '(.+)'$/s, 'unknown flag $1')
      .replace(/^Option '(.+?)'.*argument missing$/s, 'flag $1 needs a value')
      .replace(/^Option '(.+?)' argument is ambiguous$/s, "flag $1 needs a value (the next argument starts with a dash: write $1=VALUE)")
      .replace(/^Unexpected argument '(.+)'$/s, 'unexpected argument $1'),
  );
}

/** A value a person typed, safe to put in a one-line message: newlines and other control characters escaped. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/**
 * Take a command's own flags out of `argv` (`--name=V`, `--name V`, `--flag`), leaving the token flags
 * for parseTokenFlags: login and setup accept every get-token flag plus a few of their own.
 */
export function takeFlags(argv: string[], own: { strings: readonly string[]; booleans: readonly string[] }): { values: Record<string, string | true>; rest: string[] } {
  const values: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([^=]+)(?:=(.*))?$/s.exec(a);
    if (m && own.booleans.includes(m[1]!) && m[2] === undefined) {
      values[m[1]!] = true;
    } else if (m && own.strings.includes(m[1]!)) {
      const v = m[2] ?? argv[++i];
      if (v === undefined) throw new OidcError('E_USAGE', `flag --${m[1]} needs a value`);
      values[m[1]!] = v;
    } else {
      rest.push(a);
    }
  }
  return { values, rest };
}
