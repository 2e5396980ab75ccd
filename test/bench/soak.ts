// Load on one agent: many socket clients asking for the same session's token for a while, plus a
// few real get-token processes, while the ID token expires every few seconds. Used by the e2e load
// test (short) and by `npm run bench` (section 7, 60 s).
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

export interface SoakOptions {
  sock: string;
  /** One encoded token request (a newline-terminated frame). */
  payload: string;
  clients: number;
  seconds: number;
  agentPid: number;
  /** A real get-token run now and then, alongside the socket clients: argv and env. */
  plugin?: { argv: string[]; env: Record<string, string | undefined>; concurrency: number };
}

export interface SoakResult {
  requests: number;
  failures: number;
  firstFailure?: string;
  /** Tokens handed out that had already expired when they arrived. */
  staleTokens: number;
  distinctTokens: number;
  pluginRuns: number;
  pluginFailures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  agentCpuUsPerRequest: number;
  rssKb: { before: number; after: number; peak: number };
}

const CLK_TCK = 100;

export function procStatus(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

/** utime + stime of a process, in ms. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const expOf = (jwt: string): number => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).exp as number;

export function askToken(sock: string, payload: string): Promise<{ ms: number; token: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect(sock);
    let buf = '';
    let done = false;
    const end = (err: Error | undefined, token?: string) => {
      if (done) return;
      done = true;
      s.destroy();
      if (token) resolve({ ms: performance.now() - t0, token });
      else reject(err);
    };
    const timer = setTimeout(() => end(new Error('no answer within 30 s')), 30_000);
    s.setEncoding('utf8');
    s.once('connect', () => s.write(payload));
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const f = JSON.parse(line) as { t?: string; token?: string };
        if (f.t === 'notice') continue;
        clearTimeout(timer);
        if (f.t === 'token' && typeof f.token === 'string') end(undefined, f.token);
        else end(new Error(`the agent answered ${line.slice(0, 200)}`));
        return;
      }
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      end(err);
    });
    s.once('close', () => {
      clearTimeout(timer);
      end(new Error('closed without an answer'));
    });
  });
}

function runPlugin(argv: string[], env: Record<string, string | undefined>): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn(argv[0]!, argv.slice(1), { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.on('close', (code) => resolve(code === 0 && /"token":"eyJ/.test(out)));
    c.on('error', () => resolve(false));
  });
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const lat: number[] = [];
  const tokens = new Set<string>();
  let failures = 0;
  let stale = 0;
  let firstFailure: string | undefined;
  let pluginRuns = 0;
  let pluginFailures = 0;
  const before = procStatus(o.agentPid);
  const cpu0 = procCpuMs(o.agentPid);
  const deadline = Date.now() + o.seconds * 1000;
  const client = async () => {
    while (Date.now() < deadline) {
      try {
        const r = await askToken(o.sock, o.payload);
        lat.push(r.ms);
        tokens.add(r.token);
        if (expOf(r.token) * 1000 <= Date.now()) stale++;
      } catch (err) {
        failures++;
        firstFailure ??= (err as Error).message;
      }
    }
  };
  const plugin = async () => {
    while (o.plugin && Date.now() < deadline) {
      pluginRuns++;
      if (!(await runPlugin(o.plugin.argv, o.plugin.env))) pluginFailures++;
    }
  };
  await Promise.all([...Array.from({ length: o.clients }, client), ...Array.from({ length: o.plugin?.concurrency ?? 0 }, plugin)]);
  const cpu1 = procCpuMs(o.agentPid);
  const after = procStatus(o.agentPid);
  return {
    requests: lat.length + failures,
    failures,
    ...(firstFailure ? { firstFailure } : {}),
    staleTokens: stale,
    distinctTokens: tokens.size,
    pluginRuns,
    pluginFailures,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    maxMs: lat.reduce((a, b) => (b > a ? b : a), 0),
    agentCpuUsPerRequest: Math.round(((cpu1 - cpu0) * 1000) / Math.max(1, lat.length)),
    rssKb: { before: before.rssKb, after: after.rssKb, peak: after.hwmKb },
  };
}

/**
 * The agent's RSS "after the load": sampled every 500 ms until it is within `limitKb` or `maxMs` have
 * passed (V8 gives pages back on its own schedule, a few seconds with the agent's heap settings).
 */
export async function settledRss(pid: number, limitKb: number, maxMs = 15_000): Promise<{ kb: number; ms: number }> {
  let kb = procStatus(pid).rssKb;
  let ms = 0;
  for (; ms < maxMs && kb > limitKb; ms += 500) {
    await new Promise((res) => setTimeout(res, 500));
    kb = procStatus(pid).rssKb;
  }
  return { kb, ms };
}
