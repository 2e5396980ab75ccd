import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OidcError, isOidcError } from '../errors.js';
import { checkPrivateDir, ensurePrivateDir, socketPath, stateDir } from '../paths.js';
import { answers, envelope, frameToError, type AgentInfo, type Caller, type ErrorFrame, type Reply, type ReplyFor, type Request } from '../protocol.js';
import type { Io } from '../commands/io.js';
import { agentLogPath, ask, isNoAgent, logTail, spawnAgent, waitForSocket } from './agent-client.js';
import { promptTty } from './tty.js';

/**
 * The client's one transport. A request goes to the agent (started on demand) or, when no agent can
 * run, to the same request handler in this process. Either way the caller gets the reply for its op,
 * or an OidcError: an error frame from the agent and an exception in-process look the same.
 */
export async function send<R extends Request>(io: Io, req: R, opts: { timeoutMs?: number; startAgent?: boolean } = {}): Promise<ReplyFor<R>> {
  const caller: Caller = { notify: (m) => io.stderr(`${m}\n`), prompt: io.prompt ?? promptTty };
  const viaAgent = io.env.KUBECTL_OIDC_NO_AGENT === '1' ? undefined : await tryAgent(io, req, caller, opts.timeoutMs ?? 240_000, opts.startAgent ?? true);
  const reply: Reply = viaAgent ?? (await (await io.loadInProcess()).handleInProcess(req, caller, io.env));
  if (!answers(req, reply)) throw new OidcError('E_PROTOCOL', `unexpected answer (${reply.t}) to a ${req.op} request`);
  return reply;
}

/**
 * The agent's reply, or undefined when the work should be done in this process (said on stderr).
 * With `startAgent` false, no agent running is not worth a word: the caller (status, logout) just
 * reads the stores itself.
 */
async function tryAgent(io: Io, req: Request, caller: Caller, timeoutMs: number, startAgent: boolean): Promise<Reply | undefined> {
  const sock = socketPath(io.env);
  const unusable = runtimeDirProblem(sock);
  if (unusable) {
    io.stderr(`kubectl-oidc: not using the agent: ${unusable.message}\n${unusable.hint ? `  ${unusable.hint}\n` : ''}`);
    return undefined;
  }
  /** Start our agent; false (said on stderr) when it did not come up. */
  const started = async () => {
    const failed = await start(io, sock);
    if (failed) io.stderr(`kubectl-oidc: ${failed.reason}; continuing without it${failed.detail}\n`);
    return failed === undefined;
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    let f: Reply | ErrorFrame;
    try {
      f = await ask(sock, req, caller, timeoutMs, io.env);
    } catch (err) {
      if (isNoAgent(err) && !startAgent) return undefined;
      if (isNoAgent(err) && attempt === 0) {
        if (await started()) continue;
        return undefined;
      }
      if (isOidcError(err) && err.code !== 'E_AGENT' && err.code !== 'E_PROTOCOL') throw err;
      io.stderr(`kubectl-oidc: the agent failed (${(err as Error).message}); continuing without it\n`);
      return undefined;
    }
    if (f.t === 'error' && (f.code === 'E_VERSION_MISMATCH' || f.code === 'E_PROTOCOL') && attempt === 0) {
      // An agent of another version (an older one cannot even read this request): ask it to leave, then start ours.
      await ask(sock, { ...envelope(), op: 'stop' }, undefined, 2_000).catch(() => {});
      await waitGone(sock, 3_000);
      if (await started()) continue;
      return undefined;
    }
    if (f.t === 'error') throw frameToError(f);
    return f;
  }
  return undefined;
}

/**
 * `kubectl oidc agent start`: make sure an agent runs and say which, or throw why none can.
 * Never answered in-process: a pid would be made up.
 */
export async function ensureAgent(io: Io): Promise<{ agent: AgentInfo; started: boolean }> {
  if (io.env.KUBECTL_OIDC_NO_AGENT === '1') {
    throw new OidcError('E_AGENT', 'no agent is started while KUBECTL_OIDC_NO_AGENT=1 is set', { hint: 'unset KUBECTL_OIDC_NO_AGENT to use the agent' });
  }
  const sock = socketPath(io.env);
  const unusable = runtimeDirProblem(sock);
  if (unusable) throw unusable;
  const ping = { ...envelope(), op: 'ping' } as const;
  let started = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = await ask(sock, ping);
      if (f.t === 'error') throw frameToError(f);
      if (!answers(ping, f)) throw new OidcError('E_PROTOCOL', `unexpected answer (${f.t}) to a ping`);
      return { agent: f.agent, started };
    } catch (err) {
      if (!isNoAgent(err) || attempt > 0) throw err;
      const failed = await start(io, sock);
      if (failed !== undefined) throw new OidcError('E_AGENT', `${failed.reason}${failed.detail}`.trimEnd());
      started = true;
    }
  }
  throw new OidcError('E_AGENT', 'the agent did not answer after it started');
}

/** Why the runtime dir cannot hold our socket, or undefined. One lstat on the hot path. */
function runtimeDirProblem(sock: string): OidcError | undefined {
  try {
    checkPrivateDir(dirname(sock));
    return undefined;
  } catch (err) {
    // A missing dir is fine: the agent creates it (or says in its log why it cannot).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return isOidcError(err) ? err : new OidcError('E_SOCKET_DIR', `cannot use ${dirname(sock)}: ${(err as Error).message}`);
  }
}

/** Start the agent and wait for its socket. Undefined when it is up; else why not, with the end of its log. */
async function start(io: Io, sock: string): Promise<{ reason: string; detail: string } | undefined> {
  const state = stateDir(io.env);
  // When many kubectl processes find no agent at once, one of them starts it and the rest wait:
  // forty agents racing for the start lock would cost seconds of CPU on a small machine.
  const claim = claimSpawn(dirname(sock));
  let gaveUp = () => !existsSync(join(dirname(sock), 'agent.spawning')); // the one who spawned is done
  if (claim) {
    try {
      let exited = false;
      void (await spawnAgent(io.self, state, { ...process.env, ...io.env } as NodeJS.ProcessEnv)).exited.then(() => (exited = true));
      gaveUp = () => exited;
    } catch (err) {
      claim.release();
      return { reason: `cannot start the agent (${(err as Error).message})`, detail: '' };
    }
  }
  const up = await waitForSocket(sock, 10_000, gaveUp);
  claim?.release();
  if (up) return undefined;
  const tail = logTail(state);
  return { reason: 'the agent did not start', detail: `. Its log (${agentLogPath(state)}) ends with:\n${tail ? tail.replace(/^/gm, '  ') : '  (empty)'}` };
}

/** An O_EXCL marker file: the first client to create it spawns the agent. Stale after 10 s. */
function claimSpawn(dir: string): { release(): void } | undefined {
  const marker = join(dir, 'agent.spawning');
  try {
    ensurePrivateDir(dir);
  } catch {
    return { release() {} }; // the agent will report the real problem in its log
  }
  for (let i = 0; i < 2; i++) {
    try {
      closeSync(openSync(marker, 'wx', 0o600));
      return { release: () => rmSync(marker, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { release() {} };
      try {
        if (Date.now() - statSync(marker).mtimeMs < 10_000) return undefined;
        rmSync(marker, { force: true });
      } catch {}
    }
  }
  return undefined;
}

async function waitGone(sock: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
