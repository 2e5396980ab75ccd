import { existsSync, openSync, closeSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OidcError } from '../errors.js';
import { dial } from './dial.js';
import { FrameReader, encodeFrame, parseFrame } from '../protocol/frames.js';
import { envelope, type Caller, type Frame, type Reply, type ErrorFrame, type Request } from '../protocol/wire.js';
import { NO_AGENT_ERRNOS } from '../socket.js';
import { printableLines } from '../printable.js';
import { AGENT_MALLOC_ENV } from '../runtime.js';

/** Errors that mean "no agent here": start one. */
export function isNoAgent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && NO_AGENT_ERRNOS.has(code);
}

const silent: Caller = { notify() {}, prompt: async () => null };

/**
 * Send one request and collect frames until the final one. Notices go to the caller as they arrive
 * (the login URL must reach the person while the login is still waiting for them); a prompt is
 * answered on the same connection.
 */
export function ask(socketPath: string, req: Request, caller: Caller = silent, timeoutMs = 5_000, env: Record<string, string | undefined> = process.env): Promise<Reply | ErrorFrame> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (err: unknown, frame?: Reply | ErrorFrame) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.close();
      if (frame) resolve(frame);
      else reject(err);
    };
    const conn = dial(
      socketPath,
      {
        // Armed once the request is sent (a connect to a local socket does not wait): setting up a
        // process's first timer takes ~0.4 ms, done here while the agent works on the request.
        connected() {
          timer ??= setTimeout(() => settle(new OidcError('E_AGENT', `the agent did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
        },
        data(chunk) {
          try {
            for (const raw of reader.push(chunk)) {
              const f: Frame = parseFrame(raw);
              if (f.t === 'notice') caller.notify(f.message);
              else if (f.t === 'prompt') {
                void caller.prompt(f.message, f.secret).then(
                  (value) => conn.write(encodeFrame({ t: 'answer', id: f.id, value })),
                  () => conn.write(encodeFrame({ t: 'answer', id: f.id, value: null })),
                );
              } else return settle(undefined, f);
            }
          } catch (err) {
            settle(err);
          }
        },
        end: (err) => settle(err ?? new OidcError('E_AGENT', 'the agent closed the connection without an answer')),
      },
      env,
    );
    conn.write(encodeFrame(req));
  });
}

/**
 * Stop the agent and wait: ask the agent on `sock` to stop, then wait (up to `waitMs`) until its socket
 * file is gone, so what comes next (a new agent, a service manager's) finds the place free. Not waited
 * for when the agent answers with an error (it is not leaving). Returns its answer, or what asking threw
 * (the caller says whether that matters). Used by the client replacing an older agent (transport.ts),
 * `agent stop` and `agent install`.
 */
export async function stopAgent(sock: string, opts: { askTimeoutMs?: number; waitMs?: number } = {}): Promise<{ answer?: Reply | ErrorFrame; failure?: unknown }> {
  let answer: Reply | ErrorFrame | undefined;
  let failure: unknown;
  try {
    answer = await ask(sock, { ...envelope(), op: 'stop' }, silent, opts.askTimeoutMs);
  } catch (err) {
    failure = err;
  }
  if (answer?.t !== 'error') {
    const deadline = Date.now() + (opts.waitMs ?? 3_000);
    while (existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
  return failure === undefined ? { answer } : { failure };
}

export function agentLogPath(stateDir: string): string {
  return join(stateDir, 'agent.log');
}

/**
 * The environment the agent is started with: the caller's, with two changes for a fast start and a
 * small footprint.
 * - Without NODE_EXTRA_CA_CERTS. Node reads that file and builds its whole root store before any code
 *   runs (~50 ms with the system bundle), which a cold get-token would wait for. The agent reads it
 *   itself when it first talks to an issuer, from each request's forwarded environment (oidc/http.ts).
 * - With AGENT_MALLOC_ENV (lib/runtime.ts) unless the user set it. Its V8 heap settings are set at run
 *   time (agent/heap.ts).
 */

export function agentEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _, ...rest } = env;
  return { ...AGENT_MALLOC_ENV, ...rest };
}

/**
 * Start `<self> agent --daemon` detached, its output appended to the log. Resolves `exited` if it dies
 * early (it could not start, or another agent won the race), so nobody waits for a socket in vain.
 */
export async function spawnAgent(self: readonly string[], stateDir: string, env: NodeJS.ProcessEnv): Promise<{ exited: Promise<number | null> }> {
  // Loaded only here: node:child_process costs milliseconds on every warm get-token otherwise.
  const { spawn } = await import('node:child_process');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log = agentLogPath(stateDir);
  try {
    // One previous generation at 1 MiB, so the log never grows without bound.
    if (statSync(log).size > 1 << 20) renameSync(log, `${log}.1`);
  } catch {}
  const fd = openSync(log, 'a', 0o600);
  try {
    // `self` is the executable alone when compiled (the agent is inside it), else the runtime and the script.
    const [file, ...args] = self;
    const child = spawn(file!, [...args, 'agent', '--daemon'], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: agentEnv(env),
      cwd: '/',
      windowsHide: true,
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (code) => resolve(code));
    });
    child.unref();
    return { exited };
  } finally {
    closeSync(fd);
  }
}

/** Poll until the socket accepts a connection, or `gaveUp()` says nobody is starting an agent any more. */
export async function waitForSocket(socketPath: string, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const started = Date.now();
  while (Date.now() < deadline) {
    // Checked before the connect: an agent that lost a start race exits after the winner listens.
    const last = gaveUp();
    const ok = await new Promise<boolean>((resolve) => {
      const conn = dial(socketPath, {
        connected: () => {
          conn.close();
          resolve(true);
        },
        data() {},
        end: () => resolve(false),
      });
    });
    if (ok) return true;
    if (last) return false;
    // A healthy agent listens within a few hundred ms: poll tightly until then (each try is one connect).
    await new Promise((r) => setTimeout(r, Date.now() - started < 1_000 ? 2 : 25));
  }
  return false;
}

/** The last lines of the agent log, to show when it would not start. */
export function logTail(stateDir: string, lines = 3): string {
  try {
    const path = agentLogPath(stateDir);
    const size = statSync(path).size;
    const text = readFileSync(path, 'utf8').slice(Math.max(0, size - 4096));
    // The log holds text from issuers (and anything else that reached the agent's stderr): shown on a terminal, so made printable.
    return printableLines(text.trimEnd().split('\n').slice(-lines).join('\n'), 300);
  } catch {
    return '';
  }
}
