import { existsSync } from 'node:fs';
import type { CacheConfig, ProviderConfig } from '../flags/table.js';
import type { IssuerClient } from '../oidc/issuer.js';
import { loadCustomCAs } from '../oidc/ca.js';
import type { LogoutResult } from '../protocol/wire.js';
import { cacheDir as defaultCacheDir } from '../store/dirs.js';
import { isKeyringAbsent } from '../store/keyring.js';
import { fileStores, keyringStore } from '../store/select.js';
import type { AccountSelectors } from './identity.js';
import { namedBy, tokenFiles } from './inventory.js';
import type { CreateIssuer } from './lazy-issuer.js';
import type { Session } from './session.js';

/** A revocation is a courtesy to the issuer: it must not hold a logout for long. */
const REVOKE_TIMEOUT_MS = 15_000;

/** A session the registry holds, as logout sees it. */
export interface HeldSession {
  readonly key: string;
  readonly provider: ProviderConfig;
  readonly cache: CacheConfig;
  readonly session: Session;
  readonly issuer: IssuerClient;
}

/** What logout needs of the registry. */
export interface LogoutContext<S extends HeldSession = HeldSession> {
  /** The session key (and the CAs) for these settings: the same identity get-token used. */
  resolve(provider: ProviderConfig, ui: AccountSelectors): Promise<{ key: string; cas: readonly string[] }>;
  /** The session held under `key`, waiting for one being created. */
  find(key: string): Promise<S | undefined>;
  /** Every session held now. */
  held(): S[];
  /** Take the session out of the registry (memory, refresh timer); with `closeIssuer` false its issuer client stays open to revoke. */
  release(s: S, closeIssuer: boolean): void;
  createIssuer: CreateIssuer;
}

const unique = (xs: (string | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x !== ''))];

const emptyResult = (): LogoutResult => ({ cleared: [], problems: [], notes: [], revoked: [], notRevoked: [] });

/**
 * Forget a session everywhere it may be, whatever storage the caller names now: this agent's
 * memory, the token files (the caller's dir, the session's and the default), and the keyring item.
 * The refresh tokens found there are read first and revoked at the issuer after the session is
 * forgotten here: a slow or failing issuer never keeps a session on this machine.
 */
export async function logout<S extends HeldSession>(ctx: LogoutContext<S>, provider: ProviderConfig, ui: AccountSelectors, cache: CacheConfig, env: Record<string, string>): Promise<LogoutResult> {
  const { key, cas } = await ctx.resolve(provider, ui);
  const result = emptyResult();
  const entry = await ctx.find(key);
  const files = fileStores([cache.dir ?? defaultCacheDir(), defaultCacheDir(), ...(entry?.cache.dir ? [entry.cache.dir] : [])]).filter(({ store }) => existsSync(store.pathFor(key)));
  const keyring = keyringStore();
  const held = [entry?.session.peek()];
  for (const { store } of files) held.push(await store.load(key));
  held.push(await keyring.load(key).catch(() => undefined));
  const refreshTokens = unique(held.map((t) => t?.refreshToken));
  if (entry) {
    await entry.session.forget();
    ctx.release(entry, true);
    result.cleared.push('agent memory');
  }
  for (const { dir, store } of files) {
    await store.delete(key).then(
      () => result.cleared.push(`the token file in ${dir}`),
      (err: Error) => result.problems.push(err.message),
    );
  }
  await keyring.delete(key).then(
    () => result.cleared.push('the OS keyring'),
    (err: Error) => {
      if (isKeyringAbsent(err) && cache.storage !== 'keyring') result.notes.push(`the OS keyring was not checked: ${err.message.replace(/^cannot delete from the OS keyring: /, '')}`);
      else result.problems.push(`${err.message}; if the session was kept there, it is still there`);
    },
  );
  const issuer = ctx.createIssuer(provider, cas);
  try {
    await revokeAll(issuer, refreshTokens, env, result);
  } finally {
    void issuer.close().catch(() => {});
  }
  return result;
}

/**
 * `logout --all`: every session in this agent's memory and in the token files of `cacheDirs`
 * (with the default dir and the sessions' own). A session known only from its file is revoked
 * at the issuer and client its ID token names, trusting the system roots and `cas`.
 */
export async function logoutAll<S extends HeldSession>(ctx: LogoutContext<S>, opts: { cacheDirs: string[]; caFiles: string[]; caData: string[]; env: Record<string, string> }): Promise<LogoutResult> {
  const result = emptyResult();
  const work: { issuer: IssuerClient; tokens: string[] }[] = [];
  for (const entry of ctx.held()) {
    const tokens = unique([entry.session.peek()?.refreshToken, (await entry.session.storedTokens().catch(() => undefined))?.refreshToken]);
    await entry.session.forget().then(
      () => result.cleared.push(`agent memory: ${entry.provider.issuerUrl} client ${entry.provider.clientId}`),
      (err: Error) => result.problems.push(err.message),
    );
    // The entry's issuer client knows the session's CA and secret: it revokes, then closes.
    ctx.release(entry, false);
    work.push({ issuer: entry.issuer, tokens });
  }
  let cas: string[] | undefined;
  const dirs = [defaultCacheDir(), ...ctx.held().flatMap((e) => (e.cache.dir ? [e.cache.dir] : [])), ...opts.cacheDirs];
  const stores = new Map(fileStores(dirs).map(({ dir, store }) => [dir, store]));
  for (const found of await tokenFiles(dirs)) {
    await stores.get(found.dir)!.delete(found.key).then(
      () => result.cleared.push(`the token file ${found.key.slice(0, 12)} in ${found.dir}`),
      (err: Error) => result.problems.push(err.message),
    );
    const t = found.tokens;
    if (!t?.refreshToken) continue;
    const { issuerUrl, clientId } = namedBy(t.idToken);
    if (issuerUrl === undefined || clientId === undefined) {
      result.notRevoked.push(`a refresh token in ${found.dir}: its ID token names no issuer or client`);
      continue;
    }
    try {
      cas ??= await loadCustomCAs(opts.caFiles, opts.caData);
    } catch (err) {
      result.notRevoked.push(`the refresh token for ${issuerUrl}: ${(err as Error).message}`);
      continue;
    }
    const provider: ProviderConfig = { issuerUrl, clientId, extraScopes: [], caFiles: opts.caFiles, caData: opts.caData, offlineAccess: true, insecureSkipTlsVerify: false };
    work.push({ issuer: ctx.createIssuer(provider, cas), tokens: [t.refreshToken] });
  }
  result.notes.push('the OS keyring cannot be listed: a session kept only there and not used since the agent started is not removed (log out of it with its flags)');
  for (const w of work) {
    try {
      await revokeAll(w.issuer, w.tokens, opts.env, result);
    } finally {
      void w.issuer.close().catch(() => {});
    }
  }
  return result;
}

/** Revoke each refresh token; the outcome goes into `result`, never an exception. */
async function revokeAll(issuer: IssuerClient, tokens: string[], env: Record<string, string>, result: LogoutResult): Promise<void> {
  for (const token of tokens) {
    try {
      const r = await issuer.revoke(token, { network: env, signal: AbortSignal.timeout(REVOKE_TIMEOUT_MS) });
      if (r === 'revoked') result.revoked.push(issuer.issuerUrl);
      else result.notRevoked.push(`${issuer.issuerUrl} has no revocation_endpoint (Dex has none): the refresh token stays valid there until it expires, but nobody here holds it`);
    } catch (err) {
      result.notRevoked.push(`${issuer.issuerUrl}: ${(err as Error).message}`);
    }
  }
}
