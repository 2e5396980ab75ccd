import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { OidcError } from '../errors.js';
import { makePrivateDir } from '../paths.js';

export type Release = () => Promise<void>;

/**
 * Take the per-session lock `<dir>/<key>.lock` (a separate file, never the data file: kubelogin#1144).
 * Held across a refresh or a whole login, so concurrent processes wait for one login instead of
 * opening a browser each. A holder that dies leaves a lock that goes stale after `staleMs`.
 */
export async function acquireLock(dir: string, key: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Release> {
  makePrivateDir(dir);
  const target = join(dir, key);
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 25;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const release = await lockfile.lock(target, {
        lockfilePath: `${target}.lock`,
        realpath: false,
        // A holder killed with SIGKILL blocks others for at most `stale` (5 s is proper-lockfile's minimum).
        stale: 5_000,
        update: 1_000,
        // A lost lock (clock jump, dir removed) must not crash the process: the next writer just wins.
        onCompromised: () => {},
      });
      return async () => {
        await release().catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw new OidcError('E_STORE', `cannot lock ${target}.lock: ${(err as Error).message}`, { cause: err });
      }
      if (Date.now() >= deadline) {
        throw new OidcError('E_STORE', `timed out waiting for another kubectl-oidc process holding ${target}.lock`, {
          hint: 'another login may be in progress; finish it or try again',
        });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 250);
    }
  }
}
