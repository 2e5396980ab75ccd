import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AGENT_MALLOC_ENV, isBun } from '../runtime.js';

/**
 * V8 settings for the agent: a daemon whose live heap is a few MiB. With V8's defaults a burst of a few
 * thousand requests grows the new space to 16 MiB semi-spaces and the old space by up to 4x, ~130 MiB
 * RSS that stays for tens of seconds; with these it peaks near 100 MiB and is back under 80 within
 * seconds (`test/e2e/load.test.ts`, `npm run bench` section 7).
 *
 * Set at run time, once the agent listens, not as NODE_OPTIONS: with any V8 flag on its command line
 * Node compiles its own modules from source instead of from their embedded code cache, which cost
 * every agent start ~35 ms (a cold get-token waits for it). Set afterwards, only what loads later
 * pays that, once: the HTTP stack on the first refresh. These two are read by V8 at each collection,
 * so they apply from then on (`--max-semi-space-size`, `--max-old-space-size` are read only at start).
 */
const AGENT_V8_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=10'] as const;

export function tuneHeap(env: NodeJS.ProcessEnv = process.env): void {
  // V8's flags mean nothing to Bun's JavaScriptCore (its setFlagsFromString is a stub): not set there.
  if (!isBun()) for (const f of AGENT_V8_FLAGS) setFlagsFromString(f);
  // Read by glibc at start (agentEnv sets it): not for the processes the agent starts.
  for (const [k, v] of Object.entries(AGENT_MALLOC_ENV)) if (env[k] === v) delete env[k];
}

/**
 * A full collection: V8's (what --expose-gc gives), or under Bun JavaScriptCore's synchronous one
 * (`Bun.gc(true)`); undefined where it cannot be had.
 */
export function fullCollector(): (() => void) | undefined {
  const bun = (globalThis as { Bun?: { gc?: (force: boolean) => void } }).Bun;
  if (isBun()) return typeof bun?.gc === 'function' ? () => bun.gc!(true) : undefined;
  let gc = (globalThis as { gc?: () => void }).gc;
  try {
    if (typeof gc !== 'function') {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
  } catch {}
  return typeof gc === 'function' ? gc : undefined;
}
