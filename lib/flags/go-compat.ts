import { join, resolve } from 'node:path';
import { OidcError } from '../errors.js';
import { TOKEN_FLAGS } from './table.js';

/**
 * Go's flag conventions, which kubelogin users write (pflag, klog), turned into what node:util's parseArgs
 * reads: used by parse.ts (get-token, login, logout) and write-back.ts (setup).
 */

/** kubelogin's (klog's) global logging flags: accepted so a kubelogin kubeconfig works, and ignored. */
const KLOG_VALUE_FLAGS = new Set(['log_backtrace_at', 'log_dir', 'log_file', 'log_file_max_size', 'stderrthreshold', 'vmodule']);
const KLOG_BOOL_FLAGS = new Set(['add_dir_header', 'alsologtostderr', 'logtostderr', 'one_output', 'skip_headers', 'skip_log_headers']);
/** pflag string slices: a comma-separated value is several values. */
const COMMA_LISTS = new Set(['oidc-extra-scope', 'listen-address', 'oidc-auth-request-extra-params', 'oidc-request-header']);

/**
 * `-v1`/`--v=2` (klog verbosity), `--bool=true|false`, comma-separated string slices, and klog's global
 * flags (ignored, with a notice).
 */
export function normalizeGoFlags(argv: readonly string[], notices: string[]): { args: string[]; verbosity: number } {
  const args: string[] = [];
  let verbosity = 0;
  const bools = new Set(Object.entries(TOKEN_FLAGS).filter(([, d]) => d.type === 'boolean').map(([k]) => k));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = /^--?v(?:=?(\d+))?$/.exec(a);
    if (v) {
      const level = v[1] ?? (/^\d+$/.test(argv[i + 1] ?? '') ? argv[++i]! : '0');
      verbosity = Number(level);
      continue;
    }
    const m = /^--([\w-]+)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      args.push(a);
      continue;
    }
    const name = m[1]!;
    const value = m[2];
    if (KLOG_BOOL_FLAGS.has(name) || KLOG_VALUE_FLAGS.has(name)) {
      if (KLOG_VALUE_FLAGS.has(name) && value === undefined) i++;
      notices.push(`--${name} is a kubelogin logging flag; ignored (use --debug for details)`);
      continue;
    }
    if (bools.has(name) && value !== undefined) {
      if (/^(true|1|t)$/i.test(value)) args.push(`--${name}`);
      else if (!/^(false|0|f)$/i.test(value)) throw new OidcError('E_USAGE', `--${name} takes true or false, not ${JSON.stringify(value)}`);
      continue;
    }
    if (COMMA_LISTS.has(name)) {
      // pflag splits a string slice in both spellings: --name=a,b and --name a,b.
      // A next argument that starts with a dash is left to parseArgs, which names the missing value.
      const list = value ?? (i + 1 < argv.length && !argv[i + 1]!.startsWith('-') ? argv[++i]! : undefined);
      if (list === undefined) args.push(a);
      else for (const part of list.split(',')) if (part !== '') args.push(`--${name}=${part}`);
      continue;
    }
    args.push(a);
  }
  return { args, verbosity };
}

/** kubelogin expands a leading ~ in path flags. */
export function expandHome(p: string, cwd: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return resolve(cwd, p);
}

/** pflag's StringToString: KEY=VALUE, repeatable; the last value of a key wins. */
export function keyValues(flag: string, list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new OidcError('E_USAGE', `--${flag} ${JSON.stringify(kv)} is not KEY=VALUE`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}
