import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { printable } from '../printable.js';

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
  /**
   * The origins the URL may have (the issuer's, or our loopback link's): anything else is refused
   * before any program runs (see openableUrl).
   */
  allowedOrigins: readonly string[];
  /**
   * Start the browser on a private page that forwards to the URL, rather than with the URL in its
   * command line (which every local user can read). Default: yes, except on WSL, where the browser
   * is a Windows program that cannot read this machine's /tmp.
   */
  viaPage?: boolean;
  /** The private page is removed when this aborts (the login ended); at the latest after 10 minutes. */
  until?: AbortSignal;
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
  const checked = openableUrl(url, opts.allowedOrigins);
  if (!checked.ok) throw new Error(`not opening ${printable(url, 300)}: ${checked.why}`);
  const viaPage = opts.viaPage ?? !((opts.platform ?? process.platform) === 'linux' && isWsl(opts.procVersion));
  const page = viaPage ? forwardingPage(checked.url, opts.until) : undefined;
  const candidates = browserCandidates(page?.url ?? checked.url, opts);
  const failures: string[] = [];
  for (const c of candidates) {
    const why = await tryStart(c, opts.env, opts.graceMs ?? 1_000);
    if (why === undefined) return;
    failures.push(`${c.label}: ${why}`);
  }
  page?.remove();
  throw new Error(failures.join('; '));
}

/** Hosts of this machine's loopback: the only ones an `http:` URL may name (our own login link). */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * May `raw` be given to a browser? Only an absolute `https:` URL on one of `allowedOrigins` (the
 * issuer's), or our own `http:` login link on a loopback host; with no credentials in it, and
 * nothing a command line or terminal could take for something else: no whitespace, no control
 * character, no backslash, no leading `-`. The URL goes to the browser in its canonical form.
 * Anything else (a Chromium switch such as `--renderer-cmd-prefix=…`, `file:`, `javascript:`,
 * another site) is refused, and the caller prints it, escaped, instead.
 */
export function openableUrl(raw: string, allowedOrigins: readonly string[]): { ok: true; url: string } | { ok: false; why: string } {
  if (raw.length > 8192) return { ok: false, why: 'it is longer than 8192 characters' };
  if (!/^[\x21-\x7e]+$/.test(raw) || raw.includes('\\')) return { ok: false, why: 'it contains spaces, control characters, backslashes or non-ASCII text' };
  if (!/^https?:\/\//i.test(raw)) return { ok: false, why: 'it is not an absolute https: URL' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, why: 'it is not a valid URL' };
  }
  if (u.username || u.password) return { ok: false, why: 'it carries a user name or password' };
  if (u.protocol === 'http:' && !LOOPBACK_HOSTS.has(u.hostname)) return { ok: false, why: 'it is not an https: URL' };
  const origins = allowedOrigins.map((o) => (URL.canParse(o) ? new URL(o).origin : o));
  if (!origins.includes(u.origin)) return { ok: false, why: `it is not on the issuer's origin (${origins.map((o) => printable(o)).join(' or ') || 'none'})` };
  return { ok: true, url: u.href };
}

/**
 * A page that sends the browser on to `url`, in a new directory only we can open (mode 0700, the
 * file 0600): the browser's command line then names only this file, which no other local user can
 * read. Removed when `until` aborts, and after 10 minutes at the latest.
 */
function forwardingPage(url: string, until?: AbortSignal): { url: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-oidc-'));
  const file = join(dir, 'login.html');
  const attr = url.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const js = JSON.stringify(url).replace(/</g, '\\u003c');
  writeFileSync(
    file,
    `<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0;url=${attr}"><title>kubectl-oidc</title>` +
      `<script>location.replace(${js})</script></head><body><p>Continue to <a href="${attr}">the login</a>.</p></body></html>\n`,
    { mode: 0o600, flag: 'wx' },
  );
  let timer: NodeJS.Timeout | undefined;
  const remove = () => {
    clearTimeout(timer);
    until?.removeEventListener('abort', remove);
    rmSync(dir, { recursive: true, force: true });
  };
  timer = setTimeout(remove, 10 * 60_000);
  timer.unref();
  if (until?.aborted) queueMicrotask(remove);
  else until?.addEventListener('abort', remove, { once: true });
  return { url: pathToFileURL(file).href, remove };
}

function browserCandidates(url: string, opts: OpenOptions): Candidate[] {
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
