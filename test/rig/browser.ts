// A scripted "person at a browser", used as the product's --browser-command:
//
//   node build/test/rig/browser.js [--log FILE] [--mode login|deny|ignore|oob] [--login NAME]
//                                  [--oob-code-file FILE] [--spki HASH[,HASH]] [--insecure]
//                                  [--timeout SECONDS] [--pause-at-issuer FILE] URL
//
// login:  open URL in headless Chromium, sign in on oidc-provider's dev login form (as the URL's
//         login_hint when it has one, else as --login, default alice), confirm any
//         consent or device-confirmation page, stop once the loopback callback page has loaded
//         (or the device flow's success page is shown).
// deny:   press "[ Cancel ]" / "[ Abort ]" instead, so the callback receives error=access_denied.
// ignore: only record the launch (someone who never logs in).
// oob:    sign in like login, for redirect_uri urn:ietf:wg:oauth:2.0:oob: the issuer then shows the
//         code on a page (#rig-oob-code), which is written to --oob-code-file (atomically, no
//         newline), for the test to type into the product's prompt.
//
// --pause-at-issuer FILE: once the issuer's authorization URL has loaded, write it to FILE (0644)
//         and wait for FILE.go before signing in: a test can hand the login's state to someone else.
//
// Every launch appends one JSON line to --log (time, mode, target without its query), so tests can
// count browser launches. Nothing is ever written to stdout; failures print one line on stderr.
import { appendFileSync, chmodSync, existsSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BrowserMode = 'login' | 'deny' | 'ignore' | 'oob';

export interface BrowserOptions {
  log?: string;
  mode?: BrowserMode;
  login?: string;
  /** Mode oob: where to write the code shown by the issuer. */
  oobCodeFile?: string;
  /** SPKI hash(es) from spkiHash()/issuer.spki: Chromium accepts those certificates. */
  spki?: string | string[];
  /** Ignore all certificate errors instead (less realistic than --spki). */
  insecure?: boolean;
  timeoutSeconds?: number;
  /** Write the authorization URL to this file once it has loaded, then wait for `<file>.go` before signing in. */
  pauseAtIssuer?: string;
}

export interface BrowserLaunch {
  time: string;
  mode: BrowserMode;
  login: string;
  pid: number;
  /** Origin and path of the URL it was given; never the query (it carries state and PKCE data). */
  target: string;
}

const SCRIPT = fileURLToPath(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // oidc-provider's pages load a Google font; with no network, failing DNS fast keeps pages quick.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]',
];

/** argv (program first) that runs this script with the given options; append the URL. */
export function browserCommand(opts: BrowserOptions = {}): string[] {
  const argv = [process.execPath, SCRIPT];
  if (opts.log) argv.push('--log', opts.log);
  if (opts.mode) argv.push('--mode', opts.mode);
  if (opts.login) argv.push('--login', opts.login);
  if (opts.oobCodeFile) argv.push('--oob-code-file', opts.oobCodeFile);
  const spki = typeof opts.spki === 'string' ? [opts.spki] : (opts.spki ?? []);
  if (spki.length) argv.push('--spki', spki.join(','));
  if (opts.insecure) argv.push('--insecure');
  if (opts.timeoutSeconds) argv.push('--timeout', String(opts.timeoutSeconds));
  if (opts.pauseAtIssuer) argv.push('--pause-at-issuer', opts.pauseAtIssuer);
  return argv;
}

/**
 * Writes an executable shell script running browserCommand(opts) with "$@", for products
 * whose --browser-command takes a single program name rather than a command line.
 */
export function writeBrowserWrapper(dir: string, opts: BrowserOptions = {}, name = 'rig-browser'): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nexec ${browserCommand(opts).map(quote).join(' ')} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The launches recorded in a --log file (missing file: none). */
export async function readBrowserLog(file: string): Promise<BrowserLaunch[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BrowserLaunch);
}

// ---- the script -----------------------------------------------------------

class UsageError extends Error {}

function parseArgs(argv: string[]) {
  const opts = { log: '', mode: 'login' as BrowserMode, login: 'alice', oobCodeFile: '', spki: '', insecure: false, timeout: 60, pauseAtIssuer: '' };
  const url = argv.at(-1);
  if (!url || url.startsWith('--')) throw new UsageError('missing URL (it must be the last argument)');
  const rest = argv.slice(0, -1);
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--log': opts.log = value(); break;
      case '--login': opts.login = value(); break;
      case '--oob-code-file': opts.oobCodeFile = value(); break;
      case '--spki': opts.spki = value(); break;
      case '--insecure': opts.insecure = true; break;
      case '--pause-at-issuer': opts.pauseAtIssuer = value(); break;
      case '--timeout': opts.timeout = Number(value()); break;
      case '--mode': {
        const m = value();
        if (m !== 'login' && m !== 'deny' && m !== 'ignore' && m !== 'oob') throw new UsageError(`unknown mode ${m}`);
        opts.mode = m;
        break;
      }
      default: throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (opts.mode === 'oob' && !opts.oobCodeFile) throw new UsageError('--mode oob needs --oob-code-file');
  // A person whose login page names an account (login_hint) signs in as that one, as Dex, Google or
  // Keycloak users do: the hint in the authorization URL wins over --login.
  const hint = loginHintOf(url);
  if (hint) opts.login = hint;
  return { ...opts, url };
}

function loginHintOf(url: string): string | undefined {
  try {
    return new URL(url).searchParams.get('login_hint') || undefined;
  } catch {
    return undefined;
  }
}

// Strip query and fragment: they carry state, PKCE challenges, codes.
function redact(url: string): string {
  try {
    const u = new URL(url);
    return u.protocol === 'file:' ? `file://${u.pathname}` : `${u.origin}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

// Error texts from Playwright quote whole URLs; keep only origin and path of each.
function scrub(message: string): string {
  return message.split('\n')[0]!.replace(/\bhttps?:\/\/[^\s"'<>]+/g, redact);
}

function isLoopbackCallback(url: string): boolean {
  try {
    const u = new URL(url);
    return (
      u.protocol === 'http:' &&
      ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname) &&
      (u.searchParams.has('code') || u.searchParams.has('error'))
    );
  } catch {
    return false;
  }
}

// What is on screen, decided in the page (string form: this project compiles without DOM types).
const DETECT = `(() => {
  const q = (s) => document.querySelector(s);
  const err = q('#rig-error');
  if (err) return 'error:' + err.textContent;
  if (q('#rig-oob-code')) return 'oob-code:' + q('#rig-oob-code').textContent;
  if (q('#rig-oob-error')) return 'oob-error:' + q('#rig-oob-error').textContent;
  if (q('#rig-device-success')) return 'device-success';
  if (q('#rig-device-confirm')) return 'device-confirm';
  if (q('#rig-device-error')) return 'device-error:' + q('#rig-device-error').textContent;
  if (q('input[name=login]')) return 'login';
  if (q('input[name=prompt][value=consent]')) return 'consent';
  if (q('[form="op.deviceInputForm"]')) return 'device-input';
  return 'other';
})()`;

// Actions run inside the page, like a person would trigger them, but without Playwright's
// per-action actionability waits (they cost most of a second on this 2-core machine).
const clickScript = (selector: string) => `document.querySelector(${JSON.stringify(selector)}).click()`;
// The issuer's login form is prefilled with the request's login_hint: that account is the one signed in.
const loginScript = (login: string) => `(() => {
  const form = document.querySelector('input[name=login]').form;
  const input = form.querySelector('input[name=login]');
  if (!input.value) input.value = ${JSON.stringify(login)};
  form.querySelector('input[name=password]').value = 'password';
  form.querySelector('button[type=submit]').click();
})()`;
// oidc-provider's interaction pages all carry an "[ Cancel ]" link to their abort endpoint.
const CANCEL = `[...document.querySelectorAll('a')].find((a) => a.textContent.includes('[ Cancel ]')).click()`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function drive(opts: ReturnType<typeof parseArgs>): Promise<void> {
  const { chromium } = await import('playwright-core');
  const args = [...CHROMIUM_ARGS];
  if (opts.spki) args.push(`--ignore-certificate-errors-spki-list=${opts.spki}`);
  // launch() gives Chromium a fresh temporary profile (--user-data-dir) and removes it on close.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: opts.insecure });
    const page = await context.newPage();
    let reachedCallback = false;
    let navigationError: string | undefined;
    page.on('response', (r) => {
      if (r.request().isNavigationRequest() && isLoopbackCallback(r.url())) reachedCallback = true;
    });
    let authorizationUrl: string | undefined;
    page.on('request', (r) => {
      if (!r.isNavigationRequest() || authorizationUrl) return;
      const u = new URL(r.url());
      if (u.protocol === 'https:' && u.searchParams.has('state') && u.searchParams.has('redirect_uri')) authorizationUrl = r.url();
    });
    page.on('requestfailed', (r) => {
      const failure = r.failure()?.errorText ?? 'failed';
      // ERR_ABORTED is a navigation replaced by the next one (we clicked before it finished).
      if (r.isNavigationRequest() && !failure.includes('ERR_ABORTED')) {
        navigationError = `${redact(r.url())}: ${failure}`;
      }
    });

    await page.goto(opts.url, { waitUntil: 'commit' }).catch((e: Error) => {
      navigationError ??= scrub(e.message);
    });

    const acted = new Set<string>();
    const deny = opts.mode === 'deny';
    let deviceDone = false;
    let oobDone = false;
    while (!reachedCallback && !deviceDone && !oobDone) {
      if (navigationError) throw new Error(`navigation failed: ${navigationError}`);
      const state = String(await page.evaluate(DETECT).catch(() => 'navigating'));
      if (state.startsWith('error:')) throw new Error(`issuer error page: ${state.slice('error:'.length)}`);
      if (state.startsWith('device-error:')) {
        // After our own "[ Abort ]" the issuer shows the code form again with AbortedError.
        if (deny && state.includes('AbortedError')) break;
        throw new Error(`device flow: ${state.slice('device-error:'.length)}`);
      }
      if (state === 'device-input') throw new Error('device flow asks for the user code: open verification_uri_complete');
      if (state === 'device-success') deviceDone = true;
      if (state.startsWith('oob-error:')) {
        if (deny && state.includes('access_denied')) break;
        throw new Error(`out-of-band login: ${state.slice('oob-error:'.length)}`);
      }
      if (state.startsWith('oob-code:')) {
        if (!opts.oobCodeFile) throw new Error('the issuer shows an out-of-band code: use --mode oob --oob-code-file FILE');
        // Atomic, so a test polling for the file never reads half a code.
        const tmp = `${opts.oobCodeFile}.${process.pid}.tmp`;
        writeFileSync(tmp, state.slice('oob-code:'.length), { mode: 0o600 });
        renameSync(tmp, opts.oobCodeFile);
        oobDone = true;
      }

      // Act once per page (login and consent share a URL, hence the state in the key).
      const key = `${page.url()} ${state}`;
      const script = acted.has(key)
        ? undefined
        : state === 'device-confirm'
          ? clickScript(deny ? '#rig-device-abort' : '#rig-device-continue')
          : state === 'login' || state === 'consent'
            ? deny
              ? CANCEL
              : state === 'login'
                ? loginScript(opts.login)
                : clickScript('button[type=submit]')
            : undefined;
      if (script && opts.pauseAtIssuer && state === 'login' && authorizationUrl) {
        const file = opts.pauseAtIssuer;
        writeFileSync(`${file}.tmp`, authorizationUrl, { mode: 0o644 });
        renameSync(`${file}.tmp`, file);
        opts.pauseAtIssuer = '';
        while (!existsSync(`${file}.go`)) await sleep(50);
      }
      if (script) {
        acted.add(key);
        // The click starts a navigation, which may tear down the context evaluate() runs in.
        await page.evaluate(script).catch(() => undefined);
      }
      await sleep(30);
    }
    // The product's callback page has answered; let it finish loading like a real tab would.
    await page.waitForLoadState('load');
  } finally {
    await browser.close();
  }
}

async function main(argv: string[]): Promise<number> {
  let opts: ReturnType<typeof parseArgs>;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`browser.js: ${(e as Error).message}\n`);
    return 2;
  }
  if (opts.log) {
    const entry: BrowserLaunch = {
      time: new Date().toISOString(),
      mode: opts.mode,
      login: opts.login,
      pid: process.pid,
      target: redact(opts.url),
    };
    appendFileSync(opts.log, `${JSON.stringify(entry)}\n`);
  }
  if (opts.mode === 'ignore') return 0;

  const timer = setTimeout(() => {
    process.stderr.write(`browser.js: gave up after ${opts.timeout} s (mode ${opts.mode})\n`);
    process.exit(1);
  }, opts.timeout * 1000);
  try {
    await drive(opts);
    return 0;
  } catch (e) {
    process.stderr.write(`browser.js: ${scrub((e as Error).message ?? String(e))}\n`);
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(SCRIPT);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`browser.js: ${scrub(String(e))}\n`);
      process.exit(1);
    },
  );
}
