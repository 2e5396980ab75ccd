import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Document } from 'yaml';
import { OidcError } from './errors.js';

/**
 * The user's kubeconfig, read and edited with the yaml package's document API: an edit keeps every
 * other entry, the comments and the order. Used by login --context/--user and setup --write-kubeconfig.
 * The yaml package is loaded only here (dist/yaml.cjs): it is half the size of everything else the
 * agent and the other commands hold, and none of them needs it.
 */
export const loadYaml = () => import('yaml');

/** `$KUBECONFIG`'s first file (kubectl writes new entries there too), else ~/.kube/config. */
export function kubeconfigPath(env: Record<string, string | undefined>): string {
  const first = (env.KUBECONFIG ?? '').split(delimiter).find((p) => p !== '');
  return first ?? join(env.HOME ?? homedir(), '.kube', 'config');
}

export interface ExecEntry {
  apiVersion: string;
  command: string;
  args: string[];
  interactiveMode: string;
}

async function load(path: string): Promise<Document> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OidcError('E_CONFIG', `cannot read the kubeconfig ${path}: ${(err as Error).message}`, { hint: 'set KUBECONFIG or pass --kubeconfig=FILE' });
  }
  const doc = (await loadYaml()).parseDocument(text);
  if (doc.errors.length > 0) throw new OidcError('E_CONFIG', `the kubeconfig ${path} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  return doc;
}

const named = (list: unknown, name: string): Record<string, unknown> | undefined =>
  Array.isArray(list) ? (list.find((e) => typeof e === 'object' && e !== null && (e as { name?: unknown }).name === name) as Record<string, unknown> | undefined) : undefined;

/**
 * The get-token arguments of a kubeconfig user (by `user`, or by `context`'s user, or the current
 * context's): `command: kubectl-oidc, args: [get-token, …]` or `command: kubectl, args: [oidc, get-token, …]`.
 */
export async function getTokenArgsFrom(path: string, pick: { context?: string; user?: string }): Promise<{ user: string; args: string[] }> {
  const cfg = (await load(path)).toJS() as Record<string, unknown>;
  let user = pick.user;
  if (user === undefined) {
    const ctxName = pick.context ?? (typeof cfg['current-context'] === 'string' ? cfg['current-context'] : undefined);
    if (ctxName === undefined) throw new OidcError('E_USAGE', `${path} has no current context`, { hint: 'pass --context=NAME or --user=NAME' });
    const ctx = named(cfg.contexts, ctxName)?.context as { user?: unknown } | undefined;
    if (typeof ctx?.user !== 'string') throw new OidcError('E_CONFIG', `no context ${JSON.stringify(ctxName)} with a user in ${path}`, { hint: 'see `kubectl config get-contexts`' });
    user = ctx.user;
  }
  const exec = (named(cfg.users, user)?.user as { exec?: { command?: unknown; args?: unknown } } | undefined)?.exec;
  if (!exec) throw new OidcError('E_CONFIG', `user ${JSON.stringify(user)} in ${path} has no exec section`, { hint: 'see `kubectl config view`; run `kubectl oidc setup` to add one' });
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  const base = String(exec.command ?? '').split(/[\\/]/).pop();
  if (base === 'kubectl-oidc' && args[0] === 'get-token') return { user, args: args.slice(1) };
  if (base === 'kubectl' && args[0] === 'oidc' && args[1] === 'get-token') return { user, args: args.slice(2) };
  throw new OidcError('E_CONFIG', `user ${JSON.stringify(user)} in ${path} does not run kubectl-oidc get-token`, { hint: 'pass the --oidc-* flags instead' });
}

/** The cluster of the current context (setup adds a context for it). */
export async function currentCluster(path: string): Promise<string | undefined> {
  if (!existsSync(path)) return undefined;
  const cfg = (await load(path)).toJS() as Record<string, unknown>;
  const name = cfg['current-context'];
  const ctx = typeof name === 'string' ? (named(cfg.contexts, name)?.context as { cluster?: unknown } | undefined) : undefined;
  return typeof ctx?.cluster === 'string' ? ctx.cluster : undefined;
}

/**
 * Add (or update) one exec user and one context in the kubeconfig, keeping everything else. Writes a
 * backup first, and nothing at all when both entries are already as wanted. Returns the backup path.
 */
export async function writeUserAndContext(path: string, want: { user: string; exec: ExecEntry; context: string; cluster: string }): Promise<{ changed: boolean; backup?: string }> {
  const { isMap, isSeq } = await loadYaml();
  const doc = await load(path);
  let changed = false;
  const upsert = (listKey: 'users' | 'contexts', name: string, field: 'user' | 'context', value: unknown) => {
    let list = doc.get(listKey);
    if (!isSeq(list)) {
      list = doc.createNode([]);
      doc.set(listKey, list);
    }
    if (!isSeq(list)) throw new OidcError('E_INTERNAL', 'yaml: not a sequence');
    const existing = list.items.find((it) => isMap(it) && it.get('name') === name);
    if (isMap(existing)) {
      const current: unknown = (existing.toJSON() as Record<string, unknown>)[field];
      if (isDeepStrictEqual(current, value)) return;
      existing.set(field, doc.createNode(value));
    } else {
      list.items.push(doc.createNode({ name, [field]: value }));
    }
    changed = true;
  };
  upsert('users', want.user, 'user', { exec: want.exec });
  upsert('contexts', want.context, 'context', { cluster: want.cluster, user: want.user });
  if (!changed) return { changed };
  // Both files are new names created exclusively with a random part (O_EXCL: a symlink or file planted
  // there fails the create instead of being followed), 0600 as kubectl writes kubeconfigs, and the
  // new kubeconfig in its own directory so that the rename is atomic.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backup = `${path}.kubectl-oidc-${stamp}-${randomBytes(4).toString('hex')}.bak`;
  writeExclusive(backup, readFileSync(path));
  const tmp = join(dirname(path), `.${basename(path)}.kubectl-oidc-${randomBytes(12).toString('hex')}.tmp`);
  writeExclusive(tmp, Buffer.from(doc.toString()));
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
  return { changed, backup };
}

/** Write `data` to a new file at `file` (never an existing one, never through a symlink), mode 0600, fsynced. */
function writeExclusive(file: string, data: Buffer): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
