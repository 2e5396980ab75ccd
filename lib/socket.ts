import { connect } from 'node:net';
import { existsSync } from 'node:fs';

/*
 * Asking whether an agent listens on a socket, without speaking the protocol: the agent asks before it
 * takes the socket over (agent/server.ts), the commands before they stop or replace it (commands/agent.ts,
 * commands/agent-install.ts). Moved here from agent/server.ts so the commands need not import the agent.
 */

/** errno codes from connect() that mean "no agent listens here": start one, or treat the socket as stale. */
export const NO_AGENT_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'ENOTDIR']);

/** 'alive' if something accepts connections there, 'stale' if a socket file is left by a dead agent, 'none' if nothing is there. */
export function probeSocket(path: string, timeoutMs = 1_000): Promise<'alive' | 'stale' | 'none'> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve('none');
    const s = connect(path);
    const done = (r: 'alive' | 'stale') => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(timeoutMs, () => done('alive')); // accepts but slow: treat as alive, never steal it
    s.once('connect', () => done('alive'));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code !== undefined && NO_AGENT_ERRNOS.has(err.code) ? 'stale' : 'alive'));
  });
}
