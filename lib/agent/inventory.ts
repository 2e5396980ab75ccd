import { readdir } from 'node:fs/promises';
import { claimsOf, identityOf } from '../jwt.js';
import { printable } from '../printable.js';
import type { SessionStatus } from '../protocol/wire.js';
import { fileStores } from '../store/select.js';
import type { TokenSet } from '../store/types.js';

/**
 * The token files on disk, for `status` and `logout --all`: the sessions this agent has not loaded.
 * The OS keyring cannot be listed this way (not without unlocking every item).
 */
export interface TokenFile {
  dir: string;
  key: string;
  /** undefined for a corrupt or foreign file. */
  tokens: TokenSet | undefined;
}

/** Token files (`<key>.json`) in each of `dirs`, once each dir, in name order. */
export async function tokenFiles(dirs: Iterable<string>): Promise<TokenFile[]> {
  const out: TokenFile[] = [];
  for (const { dir, store } of fileStores(dirs)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const m = /^([0-9a-f]{64})\.json$/.exec(name);
      if (!m) continue;
      out.push({ dir, key: m[1]!, tokens: await store.load(m[1]!) });
    }
  }
  return out;
}

/** The issuer and client an ID token names (its first audience): a file records nothing else of its provider. */
export function namedBy(idToken: string): { issuerUrl?: string; clientId?: string } {
  const c = claimsOf(idToken);
  const aud = Array.isArray(c.aud) ? c.aud[0] : c.aud;
  return { ...(typeof c.iss === 'string' ? { issuerUrl: c.iss } : {}), ...(typeof aud === 'string' ? { clientId: aud } : {}) };
}

/** A session known only from its token file, as status shows it. */
export function fileStatus(f: TokenFile & { tokens: TokenSet }): SessionStatus {
  const { issuerUrl, clientId } = namedBy(f.tokens.idToken);
  return {
    key: f.key,
    // Read from a token file's ID token: the issuer's text, made printable like the identity claims.
    issuerUrl: issuerUrl === undefined ? 'unknown' : printable(issuerUrl),
    clientId: clientId === undefined ? 'unknown' : printable(clientId),
    storage: 'file',
    cacheDir: f.dir,
    ...identityOf(claimsOf(f.tokens.idToken)),
    expiresAt: f.tokens.expiresAt,
    hasRefreshToken: Boolean(f.tokens.refreshToken),
    busy: false,
    held: false,
  };
}
