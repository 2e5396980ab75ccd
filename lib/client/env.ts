import { EXEC_ENV, FORWARDED_ENV } from '../protocol/wire.js';

/** What of the caller's environment goes into a request: the client picks it, the agent picks again (agent/request.ts). */
function pick(env: Record<string, string | undefined>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = env[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** The caller's network settings (FORWARDED_ENV), for a request. */
export const pickEnv = (env: Record<string, string | undefined>): Record<string, string> => pick(env, FORWARDED_ENV);

/** The forwarded network settings and EXEC_ENV, for a token request (a get-token command line). */
export const pickExecEnv = (env: Record<string, string | undefined>): Record<string, string> => pick(env, [...FORWARDED_ENV, ...EXEC_ENV]);
