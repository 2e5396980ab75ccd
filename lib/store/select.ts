import { OidcError } from '../errors.js';
import { createFileStore, createMemoryStore } from './file.js';
import { DEFAULT_KEYRING_TIMEOUT_MS, createKeyringStore, isTooLarge, keyringWedged, probeKeyring } from './keyring.js';
import type { TokenStore } from './types.js';

import type { StorageSetting } from '../flags/table.js';

export type { StorageSetting };

type Probe = { ok: true } | { ok: false; reason: string };

/** The agent opens a store per session: probe the keyring once a minute at most, not per session. */
const PROBE_TTL_MS = 60_000;
let probed: { at: number; result: Promise<Probe> } | undefined;

function probeCached(timeoutMs: number): Promise<Probe> {
  const fresh = probed && Date.now() - probed.at < PROBE_TTL_MS;
  // A keyring that has hung since it was probed is re-probed, which fails fast while it is wedged.
  if (!fresh || keyringWedged()) probed = { at: Date.now(), result: probeKeyring({ timeoutMs }) };
  return probed!.result;
}

/**
 * Open the token store for `--token-cache-storage`. `auto` takes the OS keyring when a real
 * round trip through it works and the locked 0600 file store otherwise, returning a one-line
 * `notice` that says so and why; `keyring` throws E_KEYRING instead of falling back.
 */
export async function openStore(opts: {
  storage: StorageSetting;
  cacheDir: string;
  keyringTimeoutMs?: number;
}): Promise<{ store: TokenStore; notice?: string }> {
  const file = createFileStore(opts.cacheDir);
  if (opts.storage === 'file') return { store: file };
  if (opts.storage === 'none') return { store: createMemoryStore() };

  const timeoutMs = opts.keyringTimeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  const probe = await probeCached(timeoutMs);
  if (!probe.ok) {
    if (opts.storage === 'keyring') {
      throw new OidcError('E_KEYRING', `no usable OS keyring: ${probe.reason}`, {
        hint: `use --token-cache-storage=file (tokens in ${opts.cacheDir}, readable only by you), or auto`,
      });
    }
    return {
      store: file,
      notice: `kubectl-oidc: no usable OS keyring: ${probe.reason}; keeping tokens in ${opts.cacheDir} (files readable only by you)`,
    };
  }
  const store = keyringOverFile(createKeyringStore({ timeoutMs }), file, opts.storage === 'auto');
  return opts.storage === 'auto' ? { store, notice: `kubectl-oidc: keeping tokens in the ${keyringName()}` } : { store };
}

/**
 * The token-file store in each of `dirs` (once each). Logout clears a session from every one it may be
 * in, and `status` and `logout --all` read them, whatever storage a caller names now.
 */
export function fileStores(dirs: Iterable<string>): { dir: string; store: ReturnType<typeof createFileStore> }[] {
  return [...new Set(dirs)].map((dir) => ({ dir, store: createFileStore(dir) }));
}

/**
 * The OS keyring item store, with no probe and no fallback: logout deletes a session's item whatever
 * storage a caller names now (and says so when there is no keyring).
 */
export function keyringStore(): TokenStore {
  return createKeyringStore();
}

function keyringName(): string {
  if (process.platform === 'darwin') return 'macOS Keychain';
  if (process.platform === 'win32') return 'Windows Credential Manager';
  return 'OS keyring (Secret Service)';
}

/**
 * The keyring, with the file store behind it for sessions saved before the switch (or too large
 * for the keyring, in `auto`). A session found only in the file is moved, not copied: a refresh
 * token left on disk would outlive a logout or a rotation. Logout clears both.
 */
function keyringOverFile(keyring: TokenStore, file: TokenStore, auto: boolean): TokenStore {
  return {
    kind: 'keyring',
    async load(key) {
      const tokens = await keyring.load(key);
      if (tokens) return tokens;
      const old = await file.load(key);
      if (!old) return undefined;
      try {
        await keyring.save(key, old);
      } catch {
        return old; // the move is retried on the next load; the file stays until it succeeds
      }
      await file.delete(key);
      return old;
    },
    async save(key, tokens) {
      try {
        await keyring.save(key, tokens);
      } catch (err) {
        if (!auto || !isTooLarge(err)) throw err;
        // Keep this one in the file, and drop the keyring's older item, which load would prefer.
        await keyring.delete(key);
        await file.save(key, tokens);
        return;
      }
      await file.delete(key); // an older, oversized session may still be there
    },
    async delete(key) {
      await file.delete(key);
      await keyring.delete(key);
    },
  };
}
