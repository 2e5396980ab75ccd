/**
 * The heavy half of the CLI (dist/main.cjs): the agent, the stores and the other subcommands.
 * get-token never loads it when the agent answers. The OIDC stack itself (openid-client, jose,
 * undici) is one step further away, loaded on the first login or refresh (dist/oidc.cjs).
 */
import { parseArgs } from 'node:util';
import { OidcError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { createRegistry } from './agent/registry.js';
import { startAgent, probeSocket } from './agent/server.js';
import { socketPath, stateDir } from './paths.js';
import { PROTOCOL_VERSION, pickEnv, type Frame, type Request } from './protocol.js';
import { VERSION } from './version.js';
import { agentLogPath, ask } from './client/agent-client.js';
import { frameError, send, type Io } from './client/get-token.js';
import { parseTokenFlags, TOKEN_FLAGS_HELP } from './options.js';

/** get-token without an agent: the same registry and session code, in this process, no background work. */
export async function inProcessRequest(req: Request, notice: (m: string) => void, env: Record<string, string | undefined>): Promise<Frame> {
  const log = createLogger((l) => process.stderr.write(`kubectl-oidc: ${l}`), { debug: env.KUBECTL_OIDC_DEBUG === '1' });
  const quiet: Logger = { ...log, info: log.debug };
  const registry = createRegistry({ log: quiet, background: false });
  try {
    switch (req.op) {
      case 'token': {
        const t = await registry.getToken({ options: req.options, interactive: req.interactive, env: req.env, notify: notice });
        return { t: 'token', token: t.idToken, expiresAt: t.expiresAt };
      }
      case 'logout':
        await registry.logout(req.options);
        return { t: 'ok' };
      default:
        return { t: 'ok', data: { pid: process.pid, version: VERSION, sessions: [], inProcess: true } };
    }
  } finally {
    await registry.close();
  }
}

const AGENT_HELP = `Usage: kubectl oidc agent [start|stop|status|install|uninstall] [--idle-timeout=DURATION] [--debug]

The per-user token agent. get-token starts it on demand; you rarely need these.
  agent           run in the foreground (logs on stderr)
  agent start     start it in the background if it is not running
  agent stop      ask the running agent to exit
  agent status    show the running agent and its sessions (never the tokens)
  agent install   run it at login (systemd user unit or launchd agent); uninstall undoes it
  --idle-timeout  exit after this long without requests, e.g. 30m, 2h, 0 for never (default 1h)
`;

function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new OidcError('E_USAGE', `--idle-timeout ${JSON.stringify(s)} is not a duration`, { hint: 'for example 30m, 2h or 0' });
  const n = Number(m[1]);
  return n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

export async function runCommand(cmd: string, argv: string[], io: Io): Promise<number> {
  switch (cmd) {
    case 'agent':
      return agentCommand(argv, io);
    case 'login':
      return loginCommand(argv, io);
    case 'logout':
      return logoutCommand(argv, io);
    default:
      throw new OidcError('E_USAGE', `unknown command ${JSON.stringify(cmd)}`, { hint: 'run `kubectl oidc --help` for the commands' });
  }
}

async function agentCommand(argv: string[], io: Io): Promise<number> {
  if (argv[0] === 'install' || argv[0] === 'uninstall') {
    const { agentInstallCommand } = await import('./commands/agent-install.js');
    return agentInstallCommand(argv[0], argv.slice(1), io);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'idle-timeout': { type: 'string' }, daemon: { type: 'boolean' }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new OidcError('E_USAGE', (err as Error).message.split('. ')[0]!, { hint: 'run `kubectl oidc agent --help`' });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(AGENT_HELP);
    return 0;
  }
  const sock = socketPath(io.env);
  const sub = positionals[0] ?? 'run';
  const debug = values.debug === true || io.env.KUBECTL_OIDC_DEBUG === '1';
  switch (sub) {
    case 'run': {
      const idle = parseDuration(values['idle-timeout'] ?? io.env.KUBECTL_OIDC_AGENT_IDLE_TIMEOUT ?? '1h');
      return runAgent(sock, idle, debug);
    }
    case 'start': {
      if ((await probeSocket(sock)) === 'alive') {
        io.stderr(`kubectl-oidc: the agent is already running (${sock})\n`);
        return 0;
      }
      const f = await send(io, { op: 'ping', v: PROTOCOL_VERSION, version: VERSION });
      io.stderr(`kubectl-oidc: agent started (pid ${(f as { data?: { pid?: number } }).data?.pid ?? '?'})\n`);
      return 0;
    }
    case 'stop': {
      if ((await probeSocket(sock)) !== 'alive') {
        io.stderr('kubectl-oidc: no agent is running\n');
        return 0;
      }
      await ask(sock, { op: 'stop', v: PROTOCOL_VERSION, version: VERSION }, () => {}, 5_000);
      io.stderr('kubectl-oidc: agent stopped\n');
      return 0;
    }
    case 'status': {
      if ((await probeSocket(sock)) !== 'alive') {
        io.stdout(`agent: not running (socket ${sock})\n`);
        return 0;
      }
      const f = await ask(sock, { op: 'status', v: PROTOCOL_VERSION, version: VERSION }, () => {}, 5_000);
      if (f.t !== 'ok') throw frameError(f);
      const d = f.data as { pid: number; version: string; sessions: { key: string; issuerUrl: string; clientId: string; storage: string; expiresAt?: number; hasRefreshToken: boolean }[] };
      const lines = [`agent: running, pid ${d.pid}, version ${d.version}, socket ${sock}`, `log: ${agentLogPath(stateDir())}`];
      for (const s of d.sessions) {
        const exp = s.expiresAt ? `ID token until ${new Date(s.expiresAt * 1000).toISOString()}` : 'no token';
        lines.push(`session ${s.key.slice(0, 12)}: ${s.issuerUrl} client ${s.clientId}, ${exp}, ${s.hasRefreshToken ? 'refreshable' : 'no refresh token'}, storage ${s.storage}`);
      }
      io.stdout(`${lines.join('\n')}\n`);
      return 0;
    }
    default:
      throw new OidcError('E_USAGE', `unknown agent command ${JSON.stringify(sub)}`, { hint: 'run `kubectl oidc agent --help`' });
  }
}

async function runAgent(sock: string, idleTimeoutMs: number, debug: boolean): Promise<number> {
  // Started by a client, stderr is the agent log file; in the foreground it is the terminal.
  const log = createLogger((l) => process.stderr.write(l), { debug, timestamps: true });
  const registry = createRegistry({ log, background: true, idleMs: idleTimeoutMs > 0 ? idleTimeoutMs : 24 * 3_600_000 });
  const result = await startAgent({ socketPath: sock, registry, log, idleTimeoutMs });
  if (!result.started) {
    log.info(`not starting: ${result.reason}`);
    await registry.close();
    return 0;
  }
  const { agent } = result;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => void agent.stop(sig));
  await agent.closed;
  // Everything is closed; do not let a stray handle (a native keyring call) keep a stopped agent alive.
  setTimeout(() => process.exit(0), 1_000).unref();
  return 0;
}

async function loginCommand(argv: string[], io: Io): Promise<number> {
  const { options, help } = parseTokenFlags(argv, io.cwd, io.env);
  if (help) {
    io.stdout(`Usage: kubectl oidc login --oidc-issuer-url=URL --oidc-client-id=ID [flags]\n\nLogs in now (a browser opens) and keeps the session for get-token.\n\n${TOKEN_FLAGS_HELP}\n`);
    return 0;
  }
  const f = await send(io, {
    op: 'token',
    v: PROTOCOL_VERSION,
    version: VERSION,
    options,
    apiVersion: 'client.authentication.k8s.io/v1',
    interactive: true,
    env: pickEnv(io.env),
  }, options);
  if (f.t !== 'token') throw frameError(f);
  const claims = decodeClaims(f.token);
  const who = typeof claims.email === 'string' ? claims.email : typeof claims.sub === 'string' ? claims.sub : 'unknown user';
  io.stderr(`kubectl-oidc: logged in as ${who}; ID token valid until ${new Date(f.expiresAt * 1000).toISOString()}\n`);
  return 0;
}

async function logoutCommand(argv: string[], io: Io): Promise<number> {
  const { options, help } = parseTokenFlags(argv, io.cwd, io.env);
  if (help) {
    io.stdout(`Usage: kubectl oidc logout --oidc-issuer-url=URL --oidc-client-id=ID [flags]\n\nForgets the session (agent memory, keyring and token file).\n`);
    return 0;
  }
  const f = await send(io, { op: 'logout', v: PROTOCOL_VERSION, version: VERSION, options }, options);
  if (f.t !== 'ok') throw frameError(f);
  io.stderr('kubectl-oidc: logged out\n');
  return 0;
}

function decodeClaims(jwt: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}
