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
