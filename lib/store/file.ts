import { lstat, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { OidcError } from '../errors.js';
import { makePrivateDir } from '../paths.js';
import { cacheDir } from './dirs.js';
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
      await checkDir(dir);
      let text: string;
      try {
        text = await readNoFollow(pathFor(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
          throw new OidcError('E_STORE', `the token cache file ${pathFor(key)} is a symbolic link; refusing to read it`, {
            hint: `remove it (rm ${pathFor(key)}); the next command logs in again`,
          });
        }
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
      await checkDir(dir); // a missing dir is created below
      try {
        makePrivateDir(dir);
        const final = pathFor(key);
        const tmp = `${final}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
        const fh = await open(tmp, 'wx', 0o600);
        try {
          try {
            await fh.writeFile(JSON.stringify({ v: FORMAT, key, tokens }));
            await fh.sync();
          } finally {
            await fh.close();
          }
          await rename(tmp, final);
        } catch (err) {
          // A full disk (ENOSPC, EFBIG) or a failed rename: no half-written temp file (with half a token) stays behind.
          await unlink(tmp).catch(() => {});
          throw err;
        }
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

/**
 * Refuse a cache dir that is a symbolic link, not ours or open to others: whoever controls the link's
 * target (or the directory) could read the refresh tokens written there or swap the files we read.
 * A missing dir is fine (nothing cached yet; save creates it 0700).
 */
async function checkDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new OidcError('E_STORE', `cannot use the token cache dir ${dir}: ${err.message}`, { cause: err });
  });
  if (!st) return;
  if (st.isSymbolicLink()) {
    throw new OidcError('E_STORE', `the token cache dir ${dir} is a symbolic link; refusing to keep tokens there`, {
      hint: 'replace it with a real directory, or pass --token-cache-dir=DIR',
    });
  }
  if (!st.isDirectory()) throw new OidcError('E_STORE', `the token cache dir ${dir} is not a directory`, { hint: 'remove it, or pass --token-cache-dir=DIR' });
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new OidcError('E_STORE', `the token cache dir ${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); refusing to keep tokens there`, {
      hint: 'remove it, or pass --token-cache-dir=DIR',
    });
  }
  // A directory that others may open is not ours to make private: `--token-cache-dir=$HOME` (or a
  // shared dir) was silently chmodded to 0700. Say so and leave it alone; a dir we create is 0700.
  // Only our own default dir (~/.cache/kubectl-oidc) is made private again by save.
  if ((st.mode & 0o077) !== 0 && dir !== cacheDir()) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new OidcError('E_STORE', `the token cache dir ${dir} is open to other users (mode ${mode}); refusing to keep tokens there, and leaving its mode alone`, {
      hint: `name a directory of its own with --token-cache-dir (a missing one is created with mode 0700), or make this one private: chmod 700 ${dir}`,
    });
  }
}

/** Read a file, never through a symbolic link (O_NOFOLLOW: ELOOP if the last component is one). */
async function readNoFollow(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
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
