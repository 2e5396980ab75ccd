import { pickStrings } from '../protocol/frames.js';
import { EXEC_REQUEST_ENV, FORWARDED_ENV } from '../protocol/wire.js';

/* What of the caller's environment goes into a request: the client picks it, the agent picks again (agent/request.ts). */

/** The caller's network settings (FORWARDED_ENV), for a request. */
export const pickEnv = (env: Record<string, string | undefined>): Record<string, string> => pickStrings(env, FORWARDED_ENV);

/** The forwarded network settings and EXEC_ENV, for a token request (a get-token command line). */
export const pickExecEnv = (env: Record<string, string | undefined>): Record<string, string> => pickStrings(env, EXEC_REQUEST_ENV);
