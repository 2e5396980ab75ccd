import { open, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { claimsOf } from '../jwt.js';

type Claims = Record<string, unknown>;

/**
 * kubelogin's default --token-cache-dir: `$KUBECACHEDIR/oidc-login` when the caller sets KUBECACHEDIR
 * (kubelogin#975), else ~/.kube/cache/oidc-login.
 */
export const kubeloginCacheDir = (env: Record<string, string | undefined> = process.env): string =>
  env.KUBECACHEDIR ? join(env.KUBECACHEDIR, 'oidc-login') : join(homedir(), '.kube', 'cache', 'oidc-login');

/** A kubelogin token file is a few KiB; anything larger is not one. */
const MAX_FILE_BYTES = 64 * 1024;

export interface KubeloginSession {
  file: string;
  idToken: string;
  refreshToken: string;
}

/**
 * The session being looked for: the fields of kubelogin's own cache key (`tokencache.Key`) that we share,
 * and our session name (kubelogin has none).
 */
export interface KubeloginWanted {
  issuerUrl: string;
  clientId: string;
  scopes: readonly string[];
  username?: string | undefined;
  extraParams: Readonly<Record<string, string>>;
  sessionName?: string | undefined;
}

/**
 * A session kubelogin left for this account: a file in one of `dirs` holding
 * `{"id_token": "...", "refresh_token": "..."}`. kubelogin names its files by a gob hash of settings we do
 * not all have, so the file is matched by what its ID token shows, and only where that proves the account:
 * - the issuer (`iss`) and client (`aud`);
 * - the scopes, as far as claims show them (`email`, `groups`, `profile` each need their claims);
 * - `--username` and a `login_hint`, each named by the token's email, preferred_username or sub;
 * - any other extra param (connector_id, kc_idp_hint, hd...) or a --session-name cannot be seen in a token:
 *   such a session is never taken over (one login instead of someone else's account);
 * - with no username or hint, the files must all name one person: two people are two accounts, and which
 *   one was meant cannot be told.
 * Only the user's own files, not writable by group or others, in a directory not writable by them either
 * (anyone who can plant a file there could hand over their own account). The ID token is only read here,
 * not trusted: the caller spends the refresh token at the issuer and verifies what comes back.
 * With several files for the account, the most recently issued wins.
 */
export async function findKubeloginSession(dirs: readonly (string | undefined)[], want: KubeloginWanted): Promise<KubeloginSession | undefined> {
  if (want.sessionName) return undefined;
  const hint = want.extraParams.login_hint;
  if (Object.keys(want.extraParams).some((k) => k !== 'login_hint')) return undefined;
  const named = [want.username, hint].filter((n): n is string => typeof n === 'string' && n !== '');
  const found: (KubeloginSession & { iat: number; sub: unknown })[] = [];
  for (const dir of new Set(dirs.filter((d): d is string => d !== undefined))) {
    if (!(await safeDir(dir))) continue;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.lock') || name.startsWith('.')) continue;
      const file = join(dir, name);
      const doc = await readOwnSmallJson(file);
      if (typeof doc !== 'object' || doc === null) continue;
      const { id_token: idToken, refresh_token: refreshToken } = doc as Record<string, unknown>;
      if (typeof idToken !== 'string' || typeof refreshToken !== 'string' || refreshToken === '') continue;
      const c = claimsOf(idToken);
      const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
      if (c.iss !== want.issuerUrl || !aud.includes(want.clientId)) continue;
      if (!showsScopes(c, want.scopes)) continue;
      if (!named.every((n) => namesPerson(c, n))) continue;
      found.push({ file, idToken, refreshToken, iat: typeof c.iat === 'number' ? c.iat : 0, sub: c.sub });
    }
  }
  if (found.length === 0) return undefined;
  if (named.length === 0 && new Set(found.map((f) => JSON.stringify(f.sub ?? null))).size > 1) return undefined;
  const best = found.reduce((a, b) => (b.iat > a.iat ? b : a));
  return { file: best.file, idToken: best.idToken, refreshToken: best.refreshToken };
}

/** Does the token name this person? Emails compare without case (they are case-insensitive in practice). */
function namesPerson(c: Claims, who: string): boolean {
  const w = who.toLowerCase();
  return [c.email, c.preferred_username, c.sub].some((v) => typeof v === 'string' && (v === who || (v.includes('@') && v.toLowerCase() === w)));
}

/** The claims each standard scope brings: a token without them was not issued for these scopes. */
const SCOPE_CLAIMS: Record<string, readonly string[]> = { email: ['email'], groups: ['groups'], profile: ['name', 'preferred_username', 'given_name', 'family_name'] };

function showsScopes(c: Claims, scopes: readonly string[]): boolean {
  return scopes.every((s) => !SCOPE_CLAIMS[s] || SCOPE_CLAIMS[s]!.some((k) => c[k] !== undefined));
}

const uid = () => process.getuid?.();

/** Nobody else can put a file here: owned by this user (or root) and not group- or world-writable. */
async function safeDir(dir: string): Promise<boolean> {
  const me = uid();
  if (me === undefined) return true; // Windows: no POSIX modes; the profile directory's ACL applies
  try {
    const st = await stat(dir);
    return st.isDirectory() && (st.uid === me || st.uid === 0) && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * A regular file of this user's, not writable by anyone else, as JSON; else undefined (not regular, a
 * symlink, someone else's, too large, unreadable, not JSON). O_NONBLOCK: a FIFO must not hang the agent.
 */
async function readOwnSmallJson(file: string): Promise<unknown> {
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0));
    const st = await fh.stat();
    if (!st.isFile() || st.size > MAX_FILE_BYTES) return undefined;
    const me = uid();
    if (me !== undefined && (st.uid !== me || (st.mode & 0o022) !== 0)) return undefined;
    return JSON.parse(await fh.readFile('utf8'));
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => {});
  }
}
