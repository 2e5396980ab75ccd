import { mkdtempSync, mkdirSync, symlinkSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createTestCA, type TestCA } from '../rig/ca.js';
import { startIssuer, PUBLIC_CLIENT_ID, type TestIssuer, type IssuerOptions } from '../rig/issuer.js';
import { startApiServer, writeKubeconfig, runKubectl, type TestApiServer, type KubectlResult, type ExecUser } from '../rig/apiserver.js';
import { writeBrowserWrapper, readBrowserLog, type BrowserMode } from '../rig/browser.js';

// Helpers that are not about a world live in test/support/; re-exported for the tests that import them from here.
export { execInfo } from '../support/exec-info.js';
export { alive, waitFor } from '../support/wait.js';
export { assertClearFailure } from '../support/assert.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The plugin under test; KUBECTL_OIDC_TEST_ENTRY runs the same tests against another build (an older one, to show a test fails there). */
export const ENTRY = process.env.KUBECTL_OIDC_TEST_ENTRY ?? join(ROOT, 'dist/kubectl-oidc.cjs');
/**
 * KUBECTL_OIDC_TEST_PLUGIN=/path/to/kubectl-oidc runs every e2e file against that executable (the release's,
 * `node scripts/test.mjs e2e-release` builds and sets it) instead of `node ENTRY`.
 */
export const PLUGIN = process.env.KUBECTL_OIDC_TEST_PLUGIN ? resolve(process.env.KUBECTL_OIDC_TEST_PLUGIN) : undefined;
/** argv that runs the plugin under test: the executable, or this node and the built entry. */
export const PLUGIN_ARGV: readonly string[] = PLUGIN ? [PLUGIN] : [process.execPath, ENTRY];

/** Fail (in CI) or say why not (locally) when a real part is missing. */
export function requireTools(): string | undefined {
  const missing = ['/usr/bin/kubectl', '/usr/bin/chromium', PLUGIN ?? ENTRY].filter((p) => !existsSync(p));
  if (missing.length === 0) return undefined;
  const why = `missing ${missing.join(', ')} (run the README's test command, which installs them)`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

export interface World {
  dir: string;
  ca: TestCA;
  issuer: TestIssuer;
  api: TestApiServer;
  /** Environment for kubectl and the plugin: a fresh HOME, cache, state and runtime dir. */
  env: Record<string, string>;
  binDir: string;
  browserLog: string;
  /** get-token flags (issuer, client, CA, browser, a free port). */
  tokenArgs: string[];
  kubeconfig(name?: string, exec?: Partial<ExecUser>, extraArgs?: string[]): Promise<string>;
  kubectl(args: string[], opts?: { kubeconfig?: string; env?: Record<string, string | undefined>; timeoutMs?: number; input?: string }): Promise<KubectlResult>;
  /** Run the plugin directly (not through kubectl). */
  plugin(args: string[], opts?: { env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<KubectlResult>;
  /** Start the plugin and return at once, to wait for what it says before it ends. */
  startPlugin(args: string[], opts?: { env?: Record<string, string | undefined>; timeoutMs?: number }): Running;
  launches(): Promise<number>;
  stopAgent(): Promise<void>;
  close(): Promise<void>;
}

export async function createWorld(
  opts: {
    issuer?: Partial<IssuerOptions>;
    browserMode?: BrowserMode;
    extraArgs?: string[];
    /** An installed kubectl-oidc executable (the single executable, an npm install) instead of `node dist/kubectl-oidc.cjs`. */
    plugin?: string;
  } = {},
): Promise<World> {
  // argv for running the plugin directly: the installed executable, or node and the built entry.
  const pluginArgv = opts.plugin ? [opts.plugin] : PLUGIN_ARGV;
  const dir = mkdtempSync(join(tmpdir(), 'ko-e2e-'));
  const ca = await createTestCA(dir);
  const issuer = await startIssuer({ ca, ...opts.issuer });
  const api = await startApiServer({ issuerUrl: issuer.url, clientId: PUBLIC_CLIENT_ID, issuerCaPem: ca.caPem, ca });
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  symlinkSync(opts.plugin ?? PLUGIN ?? ENTRY, join(binDir, 'kubectl-oidc'));
  const browserLog = join(dir, 'browser.log');
  const browser = writeBrowserWrapper(dir, { log: browserLog, mode: opts.browserMode ?? 'login', spki: issuer.spki, login: 'alice' });
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  const env: Record<string, string> = {
    HOME: home,
    PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local/state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local/share'),
    KUBECTL_OIDC_RUNTIME_DIR: join(dir, 'run'),
    KUBECTL_OIDC_AGENT_IDLE_TIMEOUT: '2m',
    DBUS_SESSION_BUS_ADDRESS: 'disabled:',
  };
  const tokenArgs = [
    `--oidc-issuer-url=${issuer.url}`,
    `--oidc-client-id=${PUBLIC_CLIENT_ID}`,
    `--certificate-authority=${ca.caFile}`,
    '--oidc-extra-scope=email',
    '--oidc-extra-scope=groups',
    `--browser-command=${browser}`,
    '--listen-address=127.0.0.1:0',
    '--token-cache-storage=file',
    ...(opts.extraArgs ?? []),
  ];
  const defaultKubeconfig = join(dir, 'kubeconfig');
  const world: World = {
    dir, ca, issuer, api, env, binDir, browserLog, tokenArgs,
    async kubeconfig(name = 'kubeconfig', exec = {}, extraArgs = []) {
      return writeKubeconfig({
        path: join(dir, name),
        server: api.url,
        caPem: api.caPem,
        user: { exec: { command: join(binDir, 'kubectl-oidc'), args: ['get-token', ...tokenArgs, ...extraArgs], ...exec } },
      });
    },
    kubectl(args, o = {}) {
      return runKubectl(args, { kubeconfig: o.kubeconfig ?? defaultKubeconfig, env: { ...env, ...o.env }, timeoutMs: o.timeoutMs ?? 60_000, ...(o.input !== undefined ? { input: o.input } : {}) });
    },
    plugin(args, o = {}) {
      return world.startPlugin(args, o).result;
    },
    startPlugin(args, o = {}) {
      return start(pluginArgv[0]!, [...pluginArgv.slice(1), ...args], { ...process.env, ...env, ...o.env }, o.timeoutMs ?? 60_000);
    },
    async launches() {
      return (await readBrowserLog(browserLog)).length;
    },
    async stopAgent() {
      await run(pluginArgv[0]!, [...pluginArgv.slice(1), 'agent', 'stop'], { ...process.env, ...env }, 10_000);
    },
    async close() {
      await world.stopAgent().catch(() => {});
      await Promise.all([issuer.close(), api.close()]);
      if (!process.env.KUBECTL_OIDC_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
    },
  };
  await world.kubeconfig();
  return world;
}

export function run(file: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number, input?: string): Promise<KubectlResult> {
  return start(file, args, env, timeoutMs, input).result;
}

/** A process still running: what it wrote so far (to wait for a line), and its result when it ends. */
export interface Running {
  result: Promise<KubectlResult>;
  stderr(): string;
}

/** `as` runs it as another user (uid, gid) from another directory: tests that play a second local user. */
export function start(file: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number, input?: string, as: { uid?: number; gid?: number; cwd?: string } = {}): Running {
  let stdout = '';
  let stderr = '';
  const result = new Promise<KubectlResult>((resolveRun) => {
    const child = spawn(file, args, { env: env as NodeJS.ProcessEnv, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...as });
    let timedOut = false;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    if (input !== undefined) child.stdin!.end(input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolveRun({ code: null, stdout, stderr: `${stderr}spawn failed: ${err.message}`, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr, timedOut });
    });
  });
  return { result, stderr: () => stderr };
}

/** Token files in the world's cache dir (never the lock files). */
export function cacheFiles(world: World): string[] {
  const d = join(world.env.XDG_CACHE_HOME!, 'kubectl-oidc');
  return existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')) : [];
}

export function agentLog(world: World): string {
  try {
    return readFileSync(join(world.env.XDG_STATE_HOME!, 'kubectl-oidc', 'agent.log'), 'utf8');
  } catch {
    return '';
  }
}

/** The agent's socket in the world's runtime dir. */
export function sockPath(w: World): string {
  return join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.sock');
}

/** The running agent's pid from its state file, if there is one. */
export function agentPid(w: World): number | undefined {
  try {
    return JSON.parse(readFileSync(join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.json'), 'utf8')).pid;
  } catch {
    return undefined;
  }
}

/** The running agent's pid; fails the test when no agent runs. */
export function runningAgentPid(w: World): number {
  const pid = agentPid(w);
  assert.ok(pid !== undefined, 'an agent runs (its state file names its pid)');
  return pid;
}

/**
 * Move the clock past the stored ID tokens' expiry instead of waiting for it: stop the agent (it holds
 * the tokens in memory), then rewrite each token file so that its token set expired a second ago,
 * keeping its lifetime (the refresh margin is a share of it). The next get-token starts a new agent
 * that loads the file and takes the expired-token path: refresh, or log in when that fails. The ID
 * token itself is not touched; the agent trusts the stored expiry, as it does after a restart.
 */
export async function expireStoredTokens(w: World): Promise<number> {
  await w.stopAgent();
  const dir = join(w.env.XDG_CACHE_HOME!, 'kubectl-oidc');
  const now = Math.floor(Date.now() / 1000);
  const files = cacheFiles(w);
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { tokens: { expiresAt: number; issuedAt: number; accessExpiresAt?: number } };
    const shift = doc.tokens.expiresAt - (now - 1);
    doc.tokens.expiresAt -= shift;
    doc.tokens.issuedAt -= shift;
    if (doc.tokens.accessExpiresAt !== undefined) doc.tokens.accessExpiresAt -= shift;
    const tmp = join(dir, `${f}.test.tmp`);
    writeFileSync(tmp, JSON.stringify(doc), { mode: 0o600 });
    renameSync(tmp, join(dir, f));
  }
  assert.ok(files.length > 0, 'a token file to expire');
  return files.length;
}
