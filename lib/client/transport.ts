import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OidcError, isOidcError } from '../errors.js';
import { checkPrivateDir, ensurePrivateDir, socketPath, stateDir } from '../paths.js';
import { VERSION } from '../version.js';
import { answers, encodeFrame, frameToError } from '../protocol/frames.js';
import { PROTOCOL_VERSION, compareVersions } from '../protocol/version.js';
import { MAX_FRAME_BYTES, envelope, type AgentInfo, type Caller, type ErrorFrame, type Reply, type ReplyFor, type Request } from '../protocol/wire.js';
import type { Io } from '../io.js';
import { agentLogPath, ask, isNoAgent, logTail, spawnAgent, stopAgent, waitForSocket } from './agent-client.js';
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
 * Why this platform gets no agent, or undefined. On Windows the agent's named pipe
 * (\\.\pipe\kubectl-oidc-<user>) can be created first by any local user, who would then read every
 * request (client secrets, passwords) and answer with tokens of his choice. Until the pipe's owner is
 * verified, every request is served in the calling process there.
 */
export function noAgentOn(platform: NodeJS.Platform): string | undefined {
  return platform === 'win32' ? 'no agent is used on Windows: another local user could create its named pipe first' : undefined;
}

/**
 * What a client does about an agent that refused it as another version: replace an agent older than
 * itself (or too old to say its version), and otherwise work without it. A newer or equal agent is
 * never stopped: its sessions and background refreshes belong to the copy that is up to date.
 */
export function mismatchAction(agentVersion: string | undefined, own: string = VERSION): 'replace' | 'without' {
  return agentVersion === undefined || compareVersions(agentVersion, own) < 0 ? 'replace' : 'without';
}

/**
 * The agent's reply, or undefined when the work should be done in this process (said on stderr).
 * With `startAgent` false, no agent running is not worth a word: the caller (status, logout) just
 * reads the stores itself.
 */
async function tryAgent(io: Io, req: Request, caller: Caller, timeoutMs: number, startAgent: boolean): Promise<Reply | undefined> {
  if (noAgentOn(io.platform ?? process.platform)) return undefined;
  // Larger than the agent reads (a CA bundle inlined in the flags): the agent is left alone, and the
  // request is served here, where nothing caps it.
  if (Buffer.byteLength(encodeFrame(req)) > MAX_FRAME_BYTES) {
    if (io.env.KUBECTL_OIDC_DEBUG === '1') io.stderr(`kubectl-oidc: the request is larger than the agent reads (${MAX_FRAME_BYTES} bytes); working without it\n`);
    return undefined;
  }
  let sock: string;
  try {
    sock = socketPath(io.env);
  } catch (err) {
    if (!isOidcError(err, 'E_SOCKET_DIR')) throw err;
    io.stderr(`kubectl-oidc: not using the agent: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
    return undefined;
  }
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
      // Never stopped for this: a frame we cannot read may come from a newer agent that serves others well.
      io.stderr(`kubectl-oidc: the agent failed (${(err as Error).message}); continuing without it\n`);
      return undefined;
    }
    if (f.t === 'error' && f.code === 'E_VERSION_MISMATCH') {
      if (attempt === 0 && mismatchAction(f.agentVersion) === 'replace') {
        // An older agent: ask it to leave, then start ours. Its sessions are in the store.
        await stopAgent(sock, { askTimeoutMs: 2_000 });
        if (await started()) continue;
        return undefined;
      }
      io.stderr(`kubectl-oidc: ${versionNotice(f)}; continuing without it\n`);
      return undefined;
    }
    if (f.t === 'error' && f.code === 'E_PROTOCOL') {
      // Our own request refused (a same-version agent never is otherwise): serve it here, leave the agent be.
      io.stderr(`kubectl-oidc: the agent refused the request (${f.message}); continuing without it\n`);
      return undefined;
    }
    if (f.t === 'error') throw frameToError(f);
    return f;
  }
  return undefined;
}

/** One line on why a running agent is not used: which is newer, and what to do about it. */
function versionNotice(f: ErrorFrame): string {
  const agent = f.agentVersion ?? 'unknown';
  if (mismatchAction(f.agentVersion) === 'replace') return `the agent (version ${agent}) did not accept this client (${VERSION}) after a restart`;
  const newer = compareVersions(agent, VERSION) > 0;
  const what = newer ? 'is newer than this kubectl-oidc and no longer reads its requests' : 'speaks another protocol';
  return `the running agent (version ${agent}, protocol ${f.agentProtocol ?? '?'}) ${what} (${VERSION}, protocol ${PROTOCOL_VERSION}); ${newer ? 'upgrade this copy' : 'stop one of them with `kubectl oidc agent stop`'}`;
}

/**
 * `kubectl oidc agent start`: make sure an agent runs and say which, or throw why none can.
 * Never answered in-process: a pid would be made up.
 */
export async function ensureAgent(io: Io): Promise<{ agent: AgentInfo; started: boolean }> {
  if (io.env.KUBECTL_OIDC_NO_AGENT === '1') {
    throw new OidcError('E_AGENT', 'no agent is started while KUBECTL_OIDC_NO_AGENT=1 is set', { hint: 'unset KUBECTL_OIDC_NO_AGENT to use the agent' });
  }
  const why = noAgentOn(io.platform ?? process.platform);
  if (why) throw new OidcError('E_AGENT', why, { hint: 'get-token works without it, in each process' });
  const sock = socketPath(io.env);
  const unusable = runtimeDirProblem(sock);
  if (unusable) throw unusable;
  const ping = { ...envelope(), op: 'ping' } as const;
  let started = false;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = await ask(sock, ping);
      if (f.t === 'error' && f.code === 'E_VERSION_MISMATCH' && attempt === 0 && mismatchAction(f.agentVersion) === 'replace') {
        await stopAgent(sock, { askTimeoutMs: 2_000 });
        const failed = await start(io, sock);
        if (failed !== undefined) throw new OidcError('E_AGENT', `${failed.reason}${failed.detail}`.trimEnd());
        started = true;
        continue;
      }
      if (f.t === 'error' && f.code === 'E_VERSION_MISMATCH') throw new OidcError('E_VERSION_MISMATCH', versionNotice(f));
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

