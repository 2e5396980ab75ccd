import { open, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { claimsOf } from '../jwt.js';

/** kubelogin's default --token-cache-dir. */
export const kubeloginCacheDir = () => join(homedir(), '.kube', 'cache', 'oidc-login');

/** A kubelogin token file is a few KiB; anything larger is not one. */
const MAX_FILE_BYTES = 64 * 1024;

export interface KubeloginSession {
  file: string;
  idToken: string;
  refreshToken: string;
}

/**
 * A session kubelogin left for this issuer and client: a file in one of `dirs` holding
 * `{"id_token": "...", "refresh_token": "..."}` whose ID token names the issuer (`iss`) and the client
 * (`aud`). Matched by content, not by recomputing kubelogin's file names (its key hashes settings we do
 * not share). The ID token is only read here, not trusted: the caller spends the refresh token at the
 * issuer and verifies what comes back. With several, the most recently issued wins.
 */
export async function findKubeloginSession(dirs: readonly (string | undefined)[], issuerUrl: string, clientId: string): Promise<KubeloginSession | undefined> {
  let best: (KubeloginSession & { iat: number }) | undefined;
  for (const dir of new Set(dirs.filter((d): d is string => d !== undefined))) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.lock') || name.startsWith('.')) continue;
      const file = join(dir, name);
      const doc = await readSmallJson(file);
      if (typeof doc !== 'object' || doc === null) continue;
      const { id_token: idToken, refresh_token: refreshToken } = doc as Record<string, unknown>;
      if (typeof idToken !== 'string' || typeof refreshToken !== 'string' || refreshToken === '') continue;
      const c = claimsOf(idToken);
      const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
      if (c.iss !== issuerUrl || !aud.includes(clientId)) continue;
      const iat = typeof c.iat === 'number' ? c.iat : 0;
      if (!best || iat > best.iat) best = { file, idToken, refreshToken, iat };
    }
  }
  return best && { file: best.file, idToken: best.idToken, refreshToken: best.refreshToken };
}

/** A regular file's JSON, or undefined (not regular, too large, unreadable, not JSON). O_NONBLOCK: a FIFO must not hang the agent. */
async function readSmallJson(file: string): Promise<unknown> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
    return JSON.parse(await fh.readFile('utf8'));
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => {});
  }
}
