import { open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OidcError } from '../errors.js';
import { makePrivateDir } from '../paths.js';
import { parseTokenSet, type TokenSet, type TokenStore } from './types.js';

const FORMAT = 1;

/**
 * One JSON file per session key, 0600 in a 0700 directory, replaced atomically (temp file, fsync,
 * rename) so a process killed mid-write leaves the old file or the new one, never half of one.
 * Anything unreadable, foreign or corrupt is a cache miss.
 */
export function createFileStore(dir: string): TokenStore & { readonly dir: string; pathFor(key: string): string } {
  const pathFor = (key: string) => join(dir, `${key}.json`);
  return {
    kind: 'file',
    dir,
    pathFor,
    async load(key) {
      let text: string;
      try {
        text = await readFile(pathFor(key), 'utf8');
      } catch {
        return undefined;
      }
      try {
        const doc = JSON.parse(text) as { v?: unknown; key?: unknown; tokens?: unknown };
        if (doc.v !== FORMAT || doc.key !== key) return undefined;
        return parseTokenSet(doc.tokens);
      } catch {
        return undefined;
      }
    },
    async save(key, tokens: TokenSet) {
      try {
        makePrivateDir(dir);
        const final = pathFor(key);
        const tmp = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        const fh = await open(tmp, 'wx', 0o600);
        try {
          await fh.writeFile(JSON.stringify({ v: FORMAT, key, tokens }));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, final).catch(async (err) => {
          await unlink(tmp).catch(() => {});
          throw err;
        });
        await sweepTemp(dir, key);
      } catch (cause) {
        throw new OidcError('E_STORE', `cannot write the token cache in ${dir}: ${(cause as Error).message}`, { cause });
      }
    },
    async delete(key) {
      await unlink(pathFor(key)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw new OidcError('E_STORE', `cannot remove ${pathFor(key)}: ${err.message}`, { cause: err });
      });
    },
  };
}

/** Temp files of writers that were killed mid-write: harmless, but they hold tokens, so they go. */
async function sweepTemp(dir: string, key: string): Promise<void> {
  const prefix = `${key}.json.`;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (!f.startsWith(prefix) || !f.endsWith('.tmp')) continue;
    const path = join(dir, f);
    const st = await stat(path).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 60_000) await unlink(path).catch(() => {});
  }
}

/** Tokens only in this process's memory (`--token-cache-storage=none`). */
export function createMemoryStore(): TokenStore {
  const items = new Map<string, TokenSet>();
  return {
    kind: 'none',
    async load(key) {
      return items.get(key);
    },
    async save(key, tokens) {
      items.set(key, tokens);
    },
    async delete(key) {
      items.delete(key);
    },
  };
}
