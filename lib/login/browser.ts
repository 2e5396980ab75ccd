import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export type Env = Record<string, string | undefined>;

/** One way to open the URL: a program and its arguments, or a shell line the user wrote. */
interface Candidate {
  file: string;
  args: string[];
  /** What to call it in a message. */
  label: string;
  /** explorer.exe exits 1 even when it opened the URL: any exit counts as started. */
  anyExit?: boolean;
}

export interface OpenOptions {
  command?: string | undefined;
  env: Env;
  /** For tests: the platform and /proc/version (WSL detection) to assume. */
  platform?: NodeJS.Platform;
  procVersion?: string;
  /** How long a command may run before it counts as started; one that fails sooner is a failure (the next is tried). */
  graceMs?: number;
}

/**
 * Open `url` in the user's browser, and fail (with the reason) when no command could:
 * - `--browser-command`: a path is run with the URL as its last argument; anything else is a shell
 *   line the user wrote, with the URL appended as "$1" (never interpolated);
 * - else `$BROWSER`, xdg's way: a colon-separated list, `%s` replaced by the URL (else appended),
 *   each tried in turn until one starts;
 * - else the OS opener: `open` on macOS, `wslview` then `explorer.exe` on WSL, `xdg-open` on Linux.
 * A command "starts" when it is still running after a short grace period or exits 0 within it; one
 * that cannot be run, or exits non-zero at once, counts as failed. The browser is never waited for.
 *
 * Hand-written rather than the `open` package: `open` ignores $BROWSER, resolves as soon as the
 * opener is spawned (a failing xdg-open is never reported, so the person is not told to open the URL
 * by hand), and would add its dependency tree to the agent; the rules above fit in this file.
 */
export async function openBrowser(url: string, opts: OpenOptions): Promise<void> {
  const candidates = browserCandidates(url, opts);
  const failures: string[] = [];
  for (const c of candidates) {
    const why = await tryStart(c, opts.env, opts.graceMs ?? 1_000);
    if (why === undefined) return;
    failures.push(`${c.label}: ${why}`);
  }
  throw new Error(failures.join('; '));
}

export function browserCandidates(url: string, opts: OpenOptions): Candidate[] {
  const platform = opts.platform ?? process.platform;
  if (opts.command) {
    // A plain path (even with spaces) is run as is; anything else is a shell command line the user wrote.
    if (existsSync(opts.command) || platform === 'win32') return [{ file: opts.command, args: [url], label: opts.command }];
    return [{ file: '/bin/sh', args: ['-c', `${opts.command} "$1"`, 'sh', url], label: opts.command }];
  }
  if (opts.env.BROWSER) {
    const list = opts.env.BROWSER.split(':').filter((e) => e.trim() !== '');
    if (list.length > 0) return list.map((entry) => fromBrowserEntry(entry, url));
  }
  switch (platform) {
    case 'darwin':
      return [{ file: 'open', args: [url], label: 'open' }];
    case 'win32':
      return [{ file: 'rundll32', args: ['url.dll,FileProtocolHandler', url], label: 'rundll32' }];
    default:
      if (isWsl(opts.procVersion)) {
        return [
          { file: 'wslview', args: [url], label: 'wslview' },
          { file: 'explorer.exe', args: [url], label: 'explorer.exe', anyExit: true },
        ];
      }
      return [{ file: 'xdg-open', args: [url], label: 'xdg-open' }];
  }
}

/** One $BROWSER entry: words split on blanks (no shell), `%s` is the URL and `%%` a percent sign, as xdg-open does. */
function fromBrowserEntry(entry: string, url: string): Candidate {
  const words = entry.trim().split(/\s+/);
  let hadUrl = false;
  const args = words.slice(1).map((w) =>
    w.replace(/%(%|s)/g, (_, c: string) => {
      if (c === '%') return '%';
      hadUrl = true;
      return url;
    }),
  );
  let file = words[0]!;
  if (file.includes('%s')) {
    hadUrl = true;
    file = file.replace(/%s/g, url);
  }
  return { file, args: hadUrl ? args : [...args, url], label: entry.trim() };
}

export function isWsl(procVersion?: string): boolean {
  if (procVersion === undefined) {
    try {
      procVersion = readFileSync('/proc/version', 'utf8');
    } catch {
      return false;
    }
  }
  return /microsoft/i.test(procVersion);
}

/** undefined when the command started; else why not. */
function tryStart(c: Candidate, env: Env, graceMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (why: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.unref();
      resolve(why);
    };
    const child = spawn(c.file, c.args, { detached: true, stdio: 'ignore', env: env as NodeJS.ProcessEnv, windowsHide: true });
    const timer = setTimeout(() => settle(undefined), graceMs);
    child.once('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ENOENT' ? 'not found' : (err.code ?? err.message)));
    child.once('exit', (code, signal) => settle(code === 0 || c.anyExit ? undefined : signal ? `killed by ${signal}` : `exit code ${code}`));
  });
}
