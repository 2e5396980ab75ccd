// TEMPORARY stub by the lead until the keyring helper writes the real one (auto/keyring/file/none). Replace freely.
import { createFileStore, createMemoryStore } from './file.js';
import type { TokenStore } from './types.js';
export type StorageSetting = 'auto' | 'keyring' | 'file' | 'none';
export async function openStore(opts: { storage: StorageSetting; cacheDir: string; keyringTimeoutMs?: number }): Promise<{ store: TokenStore; notice?: string }> {
  return { store: opts.storage === 'none' ? createMemoryStore() : createFileStore(opts.cacheDir) };
}
