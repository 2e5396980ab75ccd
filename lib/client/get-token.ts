import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OidcError, isOidcError } from '../errors.js';
import { parseExecInfo, renderExecCredential } from '../exec-credential.js';
import { parseTokenFlags, TOKEN_FLAGS_HELP, type GetTokenOptions } from '../options.js';
import { checkPrivateDir, ensurePrivateDir, socketPath, stateDir } from '../paths.js';
import { PROTOCOL_VERSION, pickEnv, type Frame, type Request, type TokenRequest } from '../protocol.js';
import { VERSION } from '../version.js';
import { ask, isNoAgent, logTail, spawnAgent, waitForSocket, agentLogPath } from './agent-client.js';

export interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  stdinIsTTY: boolean;
  stdout(text: string): void;
  stderr(text: string): void;
  /** The script to run as `<entry> agent` when an agent must be started. */
  entry: string;
  /** Loads the heavy code (openid-client, jose, stores) for the in-process fallback. */
  loadInProcess(): Promise<{ inProcessRequest(req: Request, notice: (m: string) => void, env: Record<string, string | undefined>): Promise<Frame> }>;
}

export const GET_TOKEN_HELP = `Usage: kubectl oidc get-token --oidc-issuer-url=URL --oidc-client-id=ID [flags]

Prints a client.authentication.k8s.io ExecCredential with a verified OIDC ID token.
kubectl runs it from the exec section of a kubeconfig user; see \`kubectl oidc --help\`.

${TOKEN_FLAGS_HELP}
`;

/** get-token: everything kubectl waits for on every command, kept to node:* modules. */
export async function getToken(io: Io): Promise<number> {
  const { options, help } = parseTokenFlags(io.argv, io.cwd, io.env);
  if (help) {
    io.stdout(GET_TOKEN_HELP);
    return 0;
  }
  const info = parseExecInfo(io.env.KUBERNETES_EXEC_INFO, io.stdinIsTTY);
  const req: TokenRequest = {
    op: 'token',
    v: PROTOCOL_VERSION,
    version: VERSION,
    options,
    apiVersion: info.apiVersion,
    interactive: info.interactive,
    env: pickEnv(io.env),
  };
  const frame = await send(io, req, options);
  if (frame.t === 'token') {
    io.stdout(renderExecCredential(info.apiVersion, frame.token, frame.expiresAt));
    return 0;
  }
  throw frameError(frame);
}

export function frameError(frame: Frame): OidcError {
  if (frame.t === 'error') return new OidcError(frame.code, frame.message, frame.hint ? { hint: frame.hint } : undefined);
  return new OidcError('E_PROTOCOL', `unexpected answer from the agent (${frame.t})`);
}

const notice = (io: Io) => (m: string) => io.stderr(`${m}\n`);

/** Ask the agent (starting it when needed); fall back to doing the work in this process. */
export async function send(io: Io, req: Request, options?: GetTokenOptions): Promise<Frame> {
  const viaAgent = io.env.KUBECTL_OIDC_NO_AGENT === '1' ? undefined : await tryAgent(io, req, options);
  if (viaAgent) return viaAgent;
  const heavy = await io.loadInProcess();
  return heavy.inProcessRequest(req, notice(io), io.env);
}

async function tryAgent(io: Io, req: Request, options?: GetTokenOptions): Promise<Frame | undefined> {
  const sock = socketPath(io.env);
  const timeoutMs = ((options?.authenticationTimeoutSec ?? 180) + 60) * 1000;
  const dir = dirname(sock);
  try {
    checkPrivateDir(dir); // one lstat on the hot path
  } catch (err) {
    // A missing dir is fine: the agent creates it (or says in its log why it cannot). Anything else is refused.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      io.stderr(`kubectl-oidc: not using the agent: ${(err as Error).message}\n${isOidcError(err) && err.hint ? `  ${err.hint}\n` : ''}`);
      return undefined;
    }
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const f = await ask(sock, req, notice(io), timeoutMs);
      if (f.t === 'error' && f.code === 'E_VERSION_MISMATCH' && attempt === 0) {
        // An agent of another version: ask it to leave, then start ours.
        await ask(sock, { op: 'stop', v: PROTOCOL_VERSION, version: VERSION }, () => {}, 2_000).catch(() => {});
        await waitGone(sock, 3_000);
        if (!(await start(io, sock))) return undefined;
        continue;
      }
      return f;
    } catch (err) {
      if (!isNoAgent(err) || attempt > 0) {
        if (isOidcError(err) && err.code !== 'E_AGENT' && err.code !== 'E_PROTOCOL') throw err;
        io.stderr(`kubectl-oidc: the agent failed (${(err as Error).message}); continuing without it\n`);
        return undefined;
      }
      if (!(await start(io, sock))) return undefined;
    }
  }
  return undefined;
}

async function start(io: Io, sock: string): Promise<boolean> {
  const state = stateDir();
  // When many kubectl processes find no agent at once, one of them starts it and the rest wait:
  // forty agents racing for the start lock would cost seconds of CPU on a small machine.
  const claim = claimSpawn(dirname(sock));
  let gaveUp = () => !existsSync(join(dirname(sock), 'agent.spawning')); // the one who spawned is done
  if (claim) {
    try {
      let exited = false;
      void (await spawnAgent(io.entry, state, { ...process.env, ...io.env } as NodeJS.ProcessEnv)).exited.then(() => (exited = true));
      gaveUp = () => exited;
    } catch (err) {
      claim.release();
      io.stderr(`kubectl-oidc: cannot start the agent (${(err as Error).message}); continuing without it\n`);
      return false;
    }
  }
  const up = await waitForSocket(sock, 10_000, gaveUp);
  claim?.release();
  if (up) return true;
  const tail = logTail(state);
  io.stderr(`kubectl-oidc: the agent did not start; continuing without it. Its log (${agentLogPath(state)}) ends with:\n${tail ? tail.replace(/^/gm, '  ') : '  (empty)'}\n`);
  return false;
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
