/**
 * Shell completion for `kubectl oidc …` (cmd/kubectl_complete-oidc.ts is the executable): the words
 * after `oidc`, the last one being completed, to cobra's answer: candidates and a directive
 * (0: the shell may complete file names, 4: it may not). node:* only, like get-token.
 */
import { TOKEN_FLAGS } from './config.js';

const NO_FILES = 4;
const FILES = 0;

const tokenFlags = Object.keys(TOKEN_FLAGS).map((f) => `--${f}`);
const COMMANDS: Record<string, { flags: string[]; subcommands?: string[] }> = {
  'get-token': { flags: tokenFlags },
  login: { flags: [...tokenFlags, '--context', '--user', '--kubeconfig'] },
  logout: { flags: [...tokenFlags, '--all'] },
  status: { flags: ['--output', '--token-cache-dir', '--debug', '--help'] },
  setup: { flags: [...tokenFlags, '--write-kubeconfig', '--name', '--kubeconfig', '--context', '--user'] },
  agent: { flags: ['--idle-timeout', '--debug', '--help'], subcommands: ['start', 'stop', 'status'] },
  help: { flags: [] },
};
const VALUES: Record<string, string[]> = {
  '--token-cache-storage': ['auto', 'keyring', 'file', 'none'],
  '--output': ['table', 'json'],
  '-o': ['table', 'json'],
};
const FILE_FLAGS = new Set(['--certificate-authority', '--token-cache-dir', '--kubeconfig']);

export function complete(words: string[]): { candidates: string[]; directive: number } {
  const word = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const starts = (xs: string[]) => ({ candidates: xs.filter((x) => x.startsWith(word)), directive: NO_FILES });
  const cmd = before[0];
  if (cmd === undefined) return word.startsWith('-') ? starts(['--help', '--version']) : starts(Object.keys(COMMANDS));
  const spec = COMMANDS[cmd];
  if (!spec) return { candidates: [], directive: NO_FILES };
  const prev = before.at(-1) ?? '';
  if (VALUES[prev]) return starts(VALUES[prev]!);
  if (FILE_FLAGS.has(prev)) return { candidates: [], directive: FILES };
  const eq = /^(--[^=]+)=(.*)$/.exec(word);
  if (eq) {
    if (VALUES[eq[1]!]) return starts(VALUES[eq[1]!]!.map((v) => `${eq[1]}=${v}`));
    return { candidates: [], directive: FILE_FLAGS.has(eq[1]!) ? FILES : NO_FILES };
  }
  if (word.startsWith('-')) return starts(spec.flags);
  if (spec.subcommands && before.length === 1) return starts(spec.subcommands);
  return { candidates: [], directive: NO_FILES };
}

