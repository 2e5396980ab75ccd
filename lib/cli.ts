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

function cleanParseError(err: unknown): string {
  const msg = (err as Error).message.split('. ')[0] ?? 'bad arguments';
  return msg
    .replace(/^Unknown option '(.+)'$/, 'unknown flag $1')
    .replace(/^Option '(.+?)'.*argument missing$/, 'flag $1 needs a value')
    .replace(/^Unexpected argument '(.+)'$/, 'unexpected argument $1');
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
