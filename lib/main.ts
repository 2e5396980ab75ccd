/**
 * The heavy half of the CLI (dist/main.cjs): every command but get-token, and the request handler
 * for get-token's in-process fallback. Loaded on demand; it only routes. The OIDC stack itself
 * (openid-client, jose, undici) is one step further away, loaded on the first login or refresh
 * (dist/oidc.cjs).
 */
import { OidcError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import type { Caller, Reply, Request } from './protocol/wire.js';
import { createRegistry } from './agent/registry.js';
import { handleRequest } from './agent/handler.js';
import { parseRequest } from './agent/request.js';
import type { Io } from './io.js';

/** get-token without an agent: the agent's own handler and session code, in this process, with no background work. */
export async function handleInProcess(req: Request, caller: Caller, env: Record<string, string | undefined>): Promise<Reply> {
  // Read as the agent reads a frame, so the answer (or the error) is the one the socket would give.
  const parsed = parseRequest(req, { inProcess: true });
  const log = createLogger((l) => process.stderr.write(`kubectl-oidc: ${l}`), { debug: env.KUBECTL_OIDC_DEBUG === '1' });
  const quiet: Logger = { ...log, info: log.debug };
  const registry = createRegistry({ log: quiet, background: false });
  try {
    return await handleRequest(parsed, caller, { registry });
  } finally {
    await registry.close();
  }
}

export async function runCommand(cmd: string, io: Io): Promise<number> {
  switch (cmd) {
    case 'agent':
      return (await import('./commands/agent.js')).agentCommand(io);
    case 'login':
      return (await import('./commands/login.js')).loginCommand(io);
    case 'logout':
      return (await import('./commands/logout.js')).logoutCommand(io);
    case 'setup':
      return (await import('./commands/setup.js')).setupCommand(io);
    case 'status':
      return (await import('./commands/status.js')).statusCommand(io);
    default:
      throw new OidcError('E_USAGE', `unknown command ${JSON.stringify(cmd)}`, { hint: 'run `kubectl oidc --help` for the commands' });
  }
}
