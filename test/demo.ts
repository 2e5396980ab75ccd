/**
 * `npm run demo`: kubectl-oidc end to end on this machine, with nothing of the user's touched.
 *
 * Starts the rig's Dex-like HTTPS issuer and test API server on 127.0.0.1, writes a throwaway
 * kubeconfig whose user runs `kubectl-oidc get-token`, then runs the real kubectl three times:
 * a first `auth whoami` (browser login), a second one (cached token, no browser) and
 * `get --raw /api/v1/namespaces`. Default: a person opens the printed login URL. `--headless`:
 * the rig's Chromium driver logs in, so the whole thing runs unattended.
 *
 * Reuses test/e2e/world.ts (CA, issuer, API server, fresh HOME/XDG/runtime dirs, browser wrapper).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createWorld, run, ENTRY } from './e2e/world.js';
import type { World } from './e2e/world.js';
import { readBrowserLog } from './rig/browser.js';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const CHROMIUM = '/usr/bin/chromium';
/** The plugin's default --authentication-timeout-sec; kubectl is given a little longer. */
const LOGIN_TIMEOUT_SEC = 180;
const RUN_TIMEOUT_MS = 60_000;

const HELP = `Usage: npm run demo [-- --headless]

Runs kubectl-oidc end to end against a throwaway Dex-like issuer and a test API server on
127.0.0.1, with a fresh HOME, cache and agent dir (nothing of yours is read or changed):

  1. writes a kubeconfig whose user runs \`kubectl-oidc get-token\` and shows its exec section
  2. kubectl auth whoami          first run: log in through a browser
  3. kubectl auth whoami          second run: the cached token, no browser
     kubectl get --raw /api/v1/namespaces
  4. a summary (user, groups, what the issuer saw), then stops the agent and cleans up

Options:
  --headless   let a scripted headless Chromium (${CHROMIUM}) do the login; runs unattended
  -h, --help   show this help

Without --headless the plugin prints the login URL (--skip-open-browser) and you open it in a
browser on this machine; any login name and password work. Needs kubectl (${KUBECTL}).
`;

// ---- output -----------------------------------------------------------------

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = '') => void process.stdout.write(`${s}\n`);
const indent = (text: string, pad = '   ') => text.replace(/\n$/, '').replace(/^/gm, pad);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The kubeconfig's exec section as YAML (the file itself is JSON, which is also YAML). */
function execYaml(kubeconfigPath: string): string {
  const config = JSON.parse(readFileSync(kubeconfigPath, 'utf8')) as { users?: { name: string; user: { exec?: Record<string, unknown> } }[] };
  const user = config.users?.[0];
  const exec = user?.user.exec ?? {};
  const scalar = (v: unknown) => (typeof v === 'string' && /^[\w./:=@,+%-]+$/.test(v) ? v : JSON.stringify(v));
  const lines = ['users:', `- name: ${user?.name ?? '?'}`, '  user:', '    exec:'];
  for (const [k, v] of Object.entries(exec)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      lines.push(`      ${k}:`);
      for (const item of v) lines.push(`      - ${scalar(item)}`);
    } else {
      lines.push(`      ${k}: ${scalar(v)}`);
    }
  }
  return lines.join('\n');
}

// ---- state shared with the shutdown path --------------------------------------

let world: World | undefined;
let current: ChildProcess | undefined;
let closing: Promise<void> | undefined;

class DemoError extends Error {}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  ms: number;
  timedOut: boolean;
}

/** Run kubectl against the demo kubeconfig: stderr (the plugin's messages) straight to the terminal. */
function kubectl(w: World, kubeconfig: string, args: string[], timeoutMs: number): Promise<Run> {
  say(dim(`   $ kubectl --kubeconfig=${kubeconfig} ${args.join(' ')}`));
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...w.env,
    KUBECONFIG: undefined,
    KUBECACHEDIR: join(w.dir, 'kube-cache'),
    // Everything here is on 127.0.0.1: never send it through a proxy from the user's environment.
    NO_PROXY: [process.env.NO_PROXY, '127.0.0.1,localhost,::1'].filter(Boolean).join(','),
    no_proxy: [process.env.no_proxy, '127.0.0.1,localhost,::1'].filter(Boolean).join(','),
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // stdin inherited: from a terminal, kubectl tells the plugin it is interactive, as for a person.
    const child = spawn(KUBECTL, [`--kubeconfig=${kubeconfig}`, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['inherit', 'pipe', 'inherit'] });
    current = child;
    let stdout = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      current = undefined;
      reject(new DemoError(`cannot run ${KUBECTL}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      resolve({ code, signal, stdout, ms: performance.now() - started, timedOut });
    });
  });
}

function check(r: Run, what: string): void {
  if (r.stdout) say(indent(r.stdout));
  if (r.timedOut) throw new DemoError(`${what}: kubectl did not finish within ${Math.round(r.ms / 1000)} s; gave up`);
  if (r.code !== 0) throw new DemoError(`${what}: kubectl failed (${r.signal ? `signal ${r.signal}` : `exit code ${r.code}`}); its error is above`);
  say(`   ${bold('→')} done in ${seconds(r.ms)}`);
}

// ---- the demo -------------------------------------------------------------------

async function demo(headless: boolean): Promise<void> {
  const needs: [string, string][] = [
    [KUBECTL, `kubectl not found at ${KUBECTL} (install it, or set KUBECTL=/path/to/kubectl)`],
    [ENTRY, `${ENTRY} not found (run \`npm ci\`, then \`npm run demo\`, which builds it)`],
    ...(headless ? [[CHROMIUM, `${CHROMIUM} not found (install chromium, or run without --headless)`] as [string, string]] : []),
  ];
  const missing = needs.filter(([p]) => !existsSync(p)).map(([, why]) => why);
  if (missing.length) throw new DemoError(missing.join('; '));

  say(bold(`kubectl-oidc demo${headless ? ' (headless: a scripted Chromium logs in)' : ''}`));
  say();
  say(bold('1. A test issuer, a test API server and a throwaway kubeconfig'));
  const w = (world = await createWorld());
  const tokenArgs = headless
    ? w.tokenArgs
    : [...w.tokenArgs.filter((a) => !a.startsWith('--browser-command=')), '--skip-open-browser'];
  const kubeconfig = await w.kubeconfig('kubeconfig', { args: ['get-token', ...tokenArgs] });
  mkdirSync(join(w.dir, 'kube-cache'), { recursive: true });
  say(`   issuer      ${w.issuer.url}   ${dim('(Dex-like, built on oidc-provider)')}`);
  say(`   API server  ${w.api.url}   ${dim('(verifies ID tokens like kube-apiserver --oidc-*)')}`);
  say(`   CA          ${w.ca.caFile}   ${dim('(throwaway; signs both certificates)')}`);
  say(`   kubeconfig  ${kubeconfig}`);
  say(`   HOME        ${w.env.HOME}   ${dim('(fresh, with XDG dirs and the agent socket dir under the same temp dir)')}`);
  say();
  say('   The kubeconfig user runs the plugin (installed on PATH, `command: kubectl` with');
  say('   `args: [oidc, get-token, ...]` does the same):');
  say(indent(execYaml(kubeconfig), '     '));
  say();

  say(bold('2. kubectl auth whoami, first run: no token yet, so a browser login'));
  if (headless) {
    say('   The plugin starts its agent, which runs the --browser-command above: headless Chromium');
    say('   signs in as "alice" on the issuer\'s form and lands on the plugin\'s loopback callback.');
  } else {
    say('   The plugin prints a login URL below. Open it in a browser ON THIS MACHINE: after the login');
    say('   the issuer redirects to http://localhost:PORT, which the plugin listens on here only.');
    say('   The issuer\'s certificate comes from a throwaway CA, so the browser warns: proceed anyway');
    say(`   (Advanced → Proceed), or trust ${w.ca.caFile},`);
    say(`   or use a separate Chromium that accepts this certificate:`);
    say(`     chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=${w.issuer.spki} 'URL'`);
    say('   Any login name and password work on the issuer\'s form.');
    say(`   kubectl waits for you (up to ${LOGIN_TIMEOUT_SEC} s, the plugin's --authentication-timeout-sec). Ctrl-C stops the demo.`);
    say('   (On a remote machine over SSH, run `npm run demo -- --headless` instead.)');
  }
  const first = await kubectl(w, kubeconfig, ['auth', 'whoami'], (LOGIN_TIMEOUT_SEC + 30) * 1000);
  check(first, 'first kubectl auth whoami');
  const afterLogin = { ...w.issuer.stats.tokenRequests };
  say();

  say(bold('3. The same again: the agent answers from its cache, no browser, no issuer round trip'));
  const second = await kubectl(w, kubeconfig, ['auth', 'whoami'], RUN_TIMEOUT_MS);
  check(second, 'second kubectl auth whoami');
  const third = await kubectl(w, kubeconfig, ['get', '--raw', '/api/v1/namespaces'], RUN_TIMEOUT_MS);
  check(third, 'kubectl get --raw /api/v1/namespaces');
  const cachedTokenRequests =
    Object.values(w.issuer.stats.tokenRequests).reduce((a, b) => a + b, 0) - Object.values(afterLogin).reduce((a, b) => a + b, 0);
  say();

  const user = /^Username\s+(.+)$/m.exec(first.stdout)?.[1]?.trim() ?? '(not shown)';
  const groups = /^Groups\s+\[(.*)\]$/m.exec(first.stdout)?.[1]?.trim().split(/\s+/).join(', ') ?? '(not shown)';
  const s = w.issuer.stats;
  const t = s.tokenRequests;
  say(bold('4. Summary'));
  say(`   user        ${user}`);
  say(`   groups      ${groups}`);
  say(
    `   issuer      ${t.authorization_code} login${t.authorization_code === 1 ? '' : 's'} (${s.authorizations} authorization request${s.authorizations === 1 ? '' : 's'}), ` +
      `${t.authorization_code + t.refresh_token + t.device_code + t.other} token request${t.authorization_code + t.refresh_token + t.device_code + t.other === 1 ? '' : 's'} ` +
      `(authorization_code ${t.authorization_code}, refresh_token ${t.refresh_token}), ${s.discovery} discovery, ${s.jwks} JWKS fetch${s.jwks === 1 ? "" : "es"}`,
  );
  say(`               ${cachedTokenRequests} token requests during the two cached runs`);
  if (headless) {
    const launches = (await readBrowserLog(w.browserLog)).length;
    say(`   browser     ${launches} Chromium launch${launches === 1 ? '' : 'es'}`);
  }
  const rejected = w.api.unauthorized;
  say(`   API server  ${w.api.requests.length} requests from kubectl, ${rejected} rejected`);
  say(`   timings     login ${seconds(first.ms)}, cached whoami ${seconds(second.ms)}, get --raw ${seconds(third.ms)}`);
  say();
}

/** The agent's pid from the agent.json it keeps next to its socket, if it is running. */
function readAgentPid(w: World): number | undefined {
  try {
    const state = JSON.parse(readFileSync(join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.json'), 'utf8')) as { pid?: unknown };
    return typeof state.pid === 'number' && Number.isInteger(state.pid) && state.pid > 1 ? state.pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is still this demo's agent (its command line names the demo's dir) after waiting up to `ms`. */
async function stillRunning(pid: number, dir: string, ms: number): Promise<boolean> {
  const ours = () => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return !existsSync('/proc/self'); // no /proc (macOS): the signal check has to do
    }
  };
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!ours()) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return ours();
}

/** Stop the agent, close the servers, remove the temp dir. Runs once; later callers share it. */
function shutdown(): Promise<void> {
  closing ??= (async () => {
    if (current && current.exitCode === null && current.signalCode === null) current.kill('SIGTERM');
    const w = world;
    if (!w) return;
    const agentPid = readAgentPid(w);
    const stop = await run(process.execPath, [ENTRY, 'agent', 'stop'], { ...process.env, ...w.env }, 10_000);
    const said = (stop.stderr + stop.stdout).trim().split('\n').pop() ?? '';
    say(dim(`   $ kubectl-oidc agent stop → ${said || `exit code ${stop.code}`}`));
    // A stopped agent still waits out a login in progress (an interrupted first run) before it
    // exits; its dirs are about to go, so end it rather than leave it behind for minutes.
    if (agentPid !== undefined && (await stillRunning(agentPid, w.dir, 3_000))) {
      try {
        process.kill(agentPid, 'SIGKILL');
        say(dim(`   the agent (pid ${agentPid}) was still waiting for the unfinished login; killed it`));
      } catch {}
    }
    await Promise.all([w.issuer.close(), w.api.close()]).catch(() => {});
    rmSync(w.dir, { recursive: true, force: true });
    say(dim(`   closed the issuer and the API server, removed ${w.dir}`));
  })();
  return closing;
}

function fail(message: string, code: number): void {
  process.stderr.write(`demo: ${message}\n`);
  void shutdown()
    .catch(() => {})
    .finally(() => process.exit(code));
}

async function main(argv: string[]): Promise<void> {
  let headless = false;
  for (const a of argv) {
    if (a === '--headless') headless = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(HELP);
      return;
    } else {
      process.stderr.write(`demo: unknown argument ${a}\n\n${HELP}`);
      process.exit(2);
    }
  }
  let interrupts = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (++interrupts > 1) process.exit(130);
      say();
      fail(`interrupted (${sig}); cleaning up`, 130);
    });
  }
  try {
    await demo(headless);
  } catch (err) {
    if (closing) return; // already shutting down (a signal)
    fail(err instanceof DemoError ? err.message : `unexpected error: ${(err as Error)?.message ?? String(err)}`, 1);
    return;
  }
  await shutdown();
  say(bold('Done.'));
  process.exit(0);
}

void main(process.argv.slice(2));
