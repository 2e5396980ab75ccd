import { OidcError } from '../errors.js';
import { parseFlags } from '../cli.js';
import { createLogger } from '../log.js';
import { socketPath, stateDir } from '../paths.js';
import { frameToError } from '../protocol/frames.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { envelope } from '../protocol/wire.js';
import { VERSION } from '../version.js';
import { createRegistry } from '../agent/registry.js';
import { startAgent } from '../agent/server.js';
import { probeSocket } from '../socket.js';
import { tuneHeap } from '../agent/heap.js';
import { agentLogPath, ask, stopAgent } from '../client/agent-client.js';
import { ensureAgent, noAgentOn } from '../client/transport.js';
import { renderTable, toViews } from './status.js';
import type { Io } from '../io.js';

const HELP = `Usage: kubectl oidc agent [start|stop|status|install|uninstall] [--idle-timeout=DURATION] [--debug]

The per-user token agent. get-token starts it on demand; you rarely need these.
  agent           run in the foreground (logs on stderr)
  agent start     start it in the background if it is not running
  agent stop      ask the running agent to exit
  agent status    the running agent (pid, version, socket, log) and the sessions it holds, in the
                  table of kubectl oidc status, which also lists the token files (never a token)
  --idle-timeout  exit after this long without requests, e.g. 30m, 2h, 0 for never (default 1h)

Examples:
  kubectl oidc agent status
  kubectl oidc agent --idle-timeout=0     # run in the foreground until stopped
`;

const FLAGS = {
  'idle-timeout': { type: 'string' },
  daemon: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new OidcError('E_USAGE', `--idle-timeout ${JSON.stringify(s)} is not a duration`, { hint: 'for example 30m, 2h or 0' });
  const unit = m[2] === 'ms' || m[2] === 'm' || m[2] === 'h' ? m[2] : 's';
  return Number(m[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit];
}

export async function agentCommand(io: Io): Promise<number> {
  const [first, ...more] = io.argv;
  if (first === 'install' || first === 'uninstall') return (await import('./agent-install.js')).agentInstallCommand(first, more, io);
  const { values, positionals } = parseFlags(io.argv, FLAGS, 'run `kubectl oidc agent --help`', true);
  if (values.help) {
    io.stdout(HELP);
    return 0;
  }
  const sub = positionals[0] ?? 'run';
  const noAgent = noAgentOn(io.platform ?? process.platform);
  if (noAgent && (sub === 'stop' || sub === 'status')) {
    (sub === 'status' ? io.stdout : io.stderr)(`${sub === 'status' ? 'agent: not running' : 'kubectl-oidc: no agent is running'} (${noAgent})\n`);
    return 0;
  }
  if (noAgent && sub === 'run') throw new OidcError('E_AGENT', noAgent, { hint: 'get-token works without it, in each process' });
  const sock = socketPath(io.env);
  const debug = values.debug === true || io.env.KUBECTL_OIDC_DEBUG === '1';
  switch (sub) {
    case 'run':
      return runAgent(sock, parseDuration(values['idle-timeout'] ?? io.env.KUBECTL_OIDC_AGENT_IDLE_TIMEOUT ?? '1h'), debug);
    case 'start': {
      const { agent, started } = await ensureAgent(io);
      io.stderr(`kubectl-oidc: ${started ? 'agent started' : 'the agent is already running'} (pid ${agent.pid}, ${sock})\n`);
      return 0;
    }
    case 'stop': {
      if ((await probeSocket(sock)) !== 'alive') {
        io.stderr('kubectl-oidc: no agent is running\n');
        return 0;
      }
      const { answer, failure } = await stopAgent(sock);
      if (failure !== undefined) throw failure;
      if (answer?.t === 'error') throw frameToError(answer);
      io.stderr('kubectl-oidc: agent stopped\n');
      return 0;
    }
    case 'status': {
      if ((await probeSocket(sock)) !== 'alive') {
        io.stdout(`agent: not running (socket ${sock})\n`);
        return 0;
      }
      const f = await ask(sock, { ...envelope(), op: 'status', cacheDirs: [] });
      if (f.t === 'error' && f.code === 'E_VERSION_MISMATCH') {
        // It does not serve this client, but it runs: say which it is rather than fail.
        io.stdout(`agent: running, version ${f.agentVersion ?? 'unknown'} (protocol ${f.agentProtocol ?? '?'}), socket ${sock}; this client is ${VERSION} (protocol ${PROTOCOL_VERSION})\n`);
        return 0;
      }
      if (f.t === 'error') throw frameToError(f);
      if (f.t !== 'status' || !f.agent) throw new OidcError('E_PROTOCOL', `unexpected answer (${f.t}) to a status request`);
      // The agent's part of `kubectl oidc status`: the agent, then the sessions it holds, in the same table.
      io.stdout(`agent: running, pid ${f.agent.pid}, version ${f.agent.version}, socket ${sock}\nlog: ${agentLogPath(stateDir(io.env))}\n`);
      io.stdout(renderTable(toViews({ ...f, sessions: f.sessions.filter((s) => s.held) })));
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
  tuneHeap();
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => void agent.stop(sig));
  await agent.closed;
  // Everything is closed; do not let a stray handle (a native keyring call) keep a stopped agent alive.
  setTimeout(() => process.exit(0), 1_000).unref();
  return 0;
}
