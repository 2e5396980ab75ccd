/**
 * Shell completion for `kubectl oidc …` (cmd/kubectl_complete-oidc.ts is the executable): the words
 * after `oidc`, the last one being completed, to cobra's answer: candidates and a directive
 * (0: the shell may complete file names, 4: it may not). node:* only, like get-token.
 *
 * The get-token flags and their values come from the flag table (lib/flags/table.ts TOKEN_FLAGS and
 * FLAG_VALUES), so a flag added there completes with no change here; the few flags a command has of its
 * own are listed below, and test/integration/completion.test.ts checks them against each command's --help.
 */
import { TOKEN_FLAGS_HELP } from './flags/help.js';
import { FLAG_VALUES, TOKEN_FLAGS } from './flags/table.js';

const NO_FILES = 4;
const FILES = 0;

const long = (names: readonly string[]) => names.map((f) => `--${f}`);
const tokenFlags = long(Object.keys(TOKEN_FLAGS));

interface CommandSpec {
  flags: string[];
  subcommands?: Record<string, CommandSpec>;
}

const COMMANDS: Record<string, CommandSpec> = {
  'get-token': { flags: tokenFlags },
  login: { flags: [...tokenFlags, ...long(['context', 'user', 'kubeconfig'])] },
  logout: { flags: [...tokenFlags, '--all'] },
  status: { flags: long(['output', 'token-cache-dir', 'debug', 'help']) },
  setup: { flags: [...tokenFlags, ...long(['write-kubeconfig', 'name', 'kubeconfig', 'context', 'user'])] },
  agent: {
    flags: long(['idle-timeout', 'debug', 'help']),
    subcommands: {
      start: { flags: long(['debug', 'help']) },
      stop: { flags: long(['debug', 'help']) },
      status: { flags: long(['debug', 'help']) },
      install: { flags: long(['no-enable', 'help']) },
      uninstall: { flags: long(['help']) },
    },
  },
  help: { flags: [] },
};

const VALUES: Record<string, readonly string[]> = {
  ...Object.fromEntries(Object.entries(FLAG_VALUES).map(([flag, values]) => [`--${flag}`, values ?? []])),
  '--output': ['table', 'json'],
  '-o': ['table', 'json'],
};

/** Flags whose value is a path: those the help text shows as `--flag=FILE` or `=DIR`, and the commands' own. */
const FILE_FLAGS = new Set([
  ...[...TOKEN_FLAGS_HELP.matchAll(/(--[\w-]+)=(?:FILE|DIR)\b/g)].map((m) => m[1]!),
  '--local-server-cert',
  '--local-server-key',
  '--kubeconfig',
]);

export function complete(words: string[]): { candidates: string[]; directive: number } {
  const word = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const starts = (xs: readonly string[]) => ({ candidates: xs.filter((x) => x.startsWith(word)), directive: NO_FILES });
  const cmd = before[0];
  if (cmd === undefined) return word.startsWith('-') ? starts(['--help', '--version']) : starts(Object.keys(COMMANDS));
  let spec = COMMANDS[cmd];
  if (!spec) return { candidates: [], directive: NO_FILES };
  // `agent install --…`: the subcommand's flags once it is named.
  const sub = before[1];
  if (spec.subcommands && sub !== undefined && spec.subcommands[sub]) spec = spec.subcommands[sub]!;
  const prev = before.at(-1) ?? '';
  if (VALUES[prev]) return starts(VALUES[prev]!);
  if (FILE_FLAGS.has(prev)) return { candidates: [], directive: FILES };
  const eq = /^(--[^=]+)=(.*)$/.exec(word);
  if (eq) {
    if (VALUES[eq[1]!]) return starts(VALUES[eq[1]!]!.map((v) => `${eq[1]}=${v}`));
    return { candidates: [], directive: FILE_FLAGS.has(eq[1]!) ? FILES : NO_FILES };
  }
  if (word.startsWith('-')) return starts(spec.flags);
  if (spec.subcommands && before.length === 1) return starts(Object.keys(spec.subcommands));
  return { candidates: [], directive: NO_FILES };
}
