import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../log.js';
import type { CacheConfig, ProviderConfig, TokenFlags } from '../flags/table.js';
import { scopesFor } from '../oidc/provider.js';
import { claimsOf, identityOf } from '../jwt.js';
import type { Caller, LogoutResult, SessionStatus } from '../protocol/wire.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { login as loginFn } from '../login/index.js';
import type { openBrowser as OpenBrowser } from '../login/browser.js';
import { cacheDir as defaultCacheDir } from '../store/dirs.js';
import { acquireLock } from '../store/lock.js';
import { openStore as defaultOpenStore } from '../store/select.js';
import type { TokenSet } from '../store/types.js';
import { findKubeloginSession, kubeloginCacheDir } from '../store/kubelogin.js';
import { createIdentities, type AccountSelectors } from './identity.js';
import { fileStatus, tokenFiles } from './inventory.js';
import { lazyIssuer, type CreateIssuer } from './lazy-issuer.js';
import { logout, logoutAll, type LogoutContext } from './logout.js';
import { createScheduler } from './scheduler.js';
import { Session } from './session.js';

export type { CreateIssuer };

/**
 * The login flows, loaded on the first login: they bring the HTTP servers and child_process, which an
 * agent serving cached tokens never needs (and a cold get-token would wait for).
 */
const defaultLogin: typeof loginFn = async (...args) => (await import('../login/index.js')).login(...args);

export interface TokenCall {
  flags: Pick<TokenFlags, 'provider' | 'ui' | 'cache' | 'forceRefresh' | 'notices'>;
  interactive: boolean;
  /** The caller's forwarded environment: its network (proxies) and, for a login it starts, its display and browser. */
  env: Record<string, string>;
  caller: Caller;
}

export interface RegistryDeps {
  log: Logger;
  now?: () => number;
  openStore?: typeof defaultOpenStore;
  createIssuer?: CreateIssuer;
  openBrowser?: typeof OpenBrowser;
  /** kubelogin's cache dir to take sessions over from (default ~/.kube/cache/oidc-login); tests point it elsewhere. */
  kubeloginDir?: string;
  /** The login flow (tests replace the browser login). */
  login?: typeof loginFn;
  /** Where the per-session locks live, whatever a caller's --token-cache-dir: one session, one lock. */
  lockDir?: string;
  /** Sessions unused for this long are not refreshed in the background and are dropped from memory. */
  idleMs?: number;
  /** At most this many sessions in memory; the least recently used idle one goes first. */
  maxSessions?: number;
  /** Refresh ahead of expiry in the background (the agent); the in-process fallback does not. */
  background?: boolean;
}

interface Entry {
  key: string;
  provider: ProviderConfig;
  /** The person this session is for, as the flags pick them (part of the key). */
  account: AccountSelectors;
  issuer: IssuerClient;
  session: Session;
  cache: CacheConfig;
  storeNotice?: string | undefined;
  noticeShown: boolean;
  /** Flag notices already said for this session: each once. */
  saidNotices: Set<string>;
  /** The last caller's network settings, for background refreshes. */
  network: Record<string, string>;
}

const DEFAULT_MAX_SESSIONS = 64;

/** Only what the identity reads: the entry must not keep a caller's password. */
const accountOf = (ui: AccountSelectors): AccountSelectors => ({ ...(ui.username ? { username: ui.username } : {}), authRequestExtraParams: ui.authRequestExtraParams });

/** Every session this process knows, by identity; the one place a request becomes a Session. */
export function createRegistry(deps: RegistryDeps) {
  const now = deps.now ?? Date.now;
  const openStore = deps.openStore ?? defaultOpenStore;
  const idleMs = deps.idleMs ?? 60 * 60_000;
  const maxSessions = deps.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const lockDir = () => deps.lockDir ?? defaultCacheDir();
  const identities = createIdentities(now);
  const entries = new Map<string, Entry>();
  const creating = new Map<string, Promise<Entry>>();
  const createIssuer: CreateIssuer = deps.createIssuer ?? ((p, cas) => lazyIssuer(p, cas, now));
  // The agent refreshes ahead of expiry; the in-process fallback serves one request and exits.
  const scheduler = deps.background ? createScheduler({ log: deps.log, now, idleMs }) : undefined;
  // parseCache builds these in one key order, so JSON.stringify is canonical here (and cheap: every request compares).
  let defaultDir: string | undefined;
  const cacheId = (c: CacheConfig) => JSON.stringify([c.storage, c.dir ?? (defaultDir ??= defaultCacheDir())]);

  async function entryFor(call: TokenCall): Promise<Entry> {
    const { provider, cache } = call.flags;
    const account = accountOf(call.flags.ui);
    const { key, cas } = await identities.resolve(provider, account);
    let entry = entries.get(key) ?? (await (creating.get(key) ?? create(key, provider, account, cas, cache, call.env)));
    if (entry.provider.clientSecret !== provider.clientSecret || !isDeepStrictEqual(entry.provider.requestHeaders, provider.requestHeaders)) {
      // The same identity with another client secret or request headers (the settings outside the
      // identity that the issuer client uses): the newest caller's are the ones that work.
      void entry.issuer.close().catch(() => {});
      entry.issuer = createIssuer(provider, cas);
      entry.provider = provider;
    }
    if (cacheId(entry.cache) !== cacheId(cache)) {
      const { store, notice } = await openStore({ storage: cache.storage, cacheDir: cache.dir ?? defaultCacheDir() });
      if (store.kind === 'keyring' && entry.session.storage === 'keyring') {
        // One keyring item per session, whatever the dir: a move would rewrite it unchanged (a Keychain
        // prompt on some backends), then delete it from the "old" store, which is the same item.
        Object.assign(entry, { cache });
      } else {
        deps.log.info(`session ${key.slice(0, 8)}: moving its tokens to ${store.kind} storage, as the latest caller asks`);
        await entry.session.moveTo(store);
        Object.assign(entry, { cache, storeNotice: notice, noticeShown: false });
      }
    }
    entry.network = call.env;
    // Most recently used last, so eviction takes the first idle one.
    entries.delete(key);
    entries.set(key, entry);
    return entry;
  }

  function create(key: string, provider: ProviderConfig, account: AccountSelectors, cas: readonly string[], cache: CacheConfig, callerEnv: Record<string, string>): Promise<Entry> {
    // Concurrent first requests must share one session: they wait on one creation.
    const pending = (async (): Promise<Entry> => {
      const { store, notice } = await openStore({ storage: cache.storage, cacheDir: cache.dir ?? defaultCacheDir() });
      if (notice) deps.log.info(notice);
      // The session reaches the issuer client through the entry: a caller with a new secret replaces it.
      let entry: Entry;
      const session = new Session({
        key,
        store,
        issuer: { refreshGrant: (rt, c) => entry.issuer.refreshGrant(rt, c), verify: (t, o, c) => entry.issuer.verify(t, o, c) },
        now,
        log: deps.log,
        loginTimeoutMs: (req) => req.ui.authenticationTimeoutSec * 1000,
        lock: (timeoutMs) => acquireLock(lockDir(), key, { timeoutMs }),
        login: (req, show, signal) => (deps.login ?? defaultLogin)(entry.issuer, req, { show, log: deps.log, ...(deps.openBrowser ? { openBrowser: deps.openBrowser } : {}) }, signal),
        // kubelogin users switch by renaming the command: its cache (its default dir, or the --token-cache-dir
        // their kubeconfig already names) may hold this session's refresh token.
        // Only this account's: kubelogin keys its files by username and extra params as well.
        adopt: async () => {
          const want = { issuerUrl: provider.issuerUrl, clientId: provider.clientId, scopes: scopesFor(provider), username: account.username, extraParams: account.authRequestExtraParams, sessionName: provider.sessionName };
          const found = await findKubeloginSession([cache.dir, deps.kubeloginDir ?? kubeloginCacheDir(callerEnv)], want);
          return found && { idToken: found.idToken, refreshToken: found.refreshToken, from: found.file };
        },
      });
      entry = { key, provider, account, issuer: createIssuer(provider, cas), session, cache, storeNotice: notice, noticeShown: false, saidNotices: new Set(), network: {} };
      evictFor(1);
      entries.set(key, entry);
      return entry;
    })().finally(() => creating.delete(key));
    creating.set(key, pending);
    return pending;
  }

  /** Drop sessions unused for the idle time, and the least recently used ones above the cap (never a busy one). */
  function evictFor(room: number): void {
    const t = now();
    for (const e of [...entries.values()]) {
      const over = entries.size + room > maxSessions;
      const idle = t - e.session.lastUsed > idleMs;
      if ((over || idle) && !e.session.busy) drop(e);
    }
  }

  function drop(e: Entry): void {
    release(e);
    void e.issuer.close().catch(() => {});
  }

  /** Out of memory and out of the refresh plan; the issuer client is the caller's to close. */
  function release(e: Entry): void {
    entries.delete(e.key);
    scheduler?.cancel(e);
    e.session.close();
  }

  const logoutContext: LogoutContext<Entry> = {
    resolve: (provider, ui) => identities.resolve(provider, accountOf(ui)),
    find: async (key) => entries.get(key) ?? (await creating.get(key)?.catch(() => undefined)),
    held: () => [...entries.values()],
    release: (e, closeIssuer) => (closeIssuer ? drop(e) : release(e)),
    createIssuer,
  };

  const sweeper = deps.background ? setInterval(() => evictFor(0), Math.min(60_000, Math.max(1_000, idleMs / 4))) : undefined;
  sweeper?.unref();

  return {
    async getToken(call: TokenCall): Promise<TokenSet> {
      const entry = await entryFor(call);
      if (entry.storeNotice && !entry.noticeShown) {
        entry.noticeShown = true;
        call.caller.notify(entry.storeNotice);
      }
      for (const n of call.flags.notices) {
        if (entry.saidNotices.has(n)) continue;
        entry.saidNotices.add(n);
        call.caller.notify(`kubectl-oidc: ${n}`);
      }
      const t = await entry.session.getToken({ interactive: call.interactive, forceRefresh: call.flags.forceRefresh, caller: call.caller, ui: call.flags.ui, env: call.env });
      scheduler?.served(entry);
      return t;
    },

    /** Forget a session everywhere it may be, and revoke its refresh token: lib/agent/logout.ts. */
    logout(provider: ProviderConfig, ui: AccountSelectors, cache: CacheConfig, env: Record<string, string>): Promise<LogoutResult> {
      return logout(logoutContext, provider, ui, cache, env);
    },

    /** `logout --all`: lib/agent/logout.ts. */
    logoutAll(opts: { cacheDirs: string[]; caFiles: string[]; caData: string[]; env: Record<string, string> }): Promise<LogoutResult> {
      return logoutAll(logoutContext, opts);
    },

    /**
     * What status shows: the sessions in memory, then those found only in token files (the default
     * dir, the sessions' own and `cacheDirs`). The keyring cannot be listed without unlocking every item.
     */
    async status(cacheDirs: string[] = []): Promise<SessionStatus[]> {
      const live: SessionStatus[] = [...entries.values()].map((e) => {
        const t = e.session.peek();
        const who = t ? identityOf(claimsOf(t.idToken)) : {};
        const nextRefreshAt = scheduler?.nextRefreshAt(e);
        return {
          key: e.key,
          issuerUrl: e.provider.issuerUrl,
          clientId: e.provider.clientId,
          ...(e.provider.sessionName ? { sessionName: e.provider.sessionName } : {}),
          ...(e.account.username ? { username: e.account.username } : {}),
          storage: e.session.storage,
          ...(e.session.storage === 'file' ? { cacheDir: e.cache.dir ?? defaultCacheDir() } : {}),
          ...who,
          ...(t ? { expiresAt: t.expiresAt } : {}),
          hasRefreshToken: Boolean(t?.refreshToken),
          ...(nextRefreshAt ? { nextRefreshAt } : {}),
          busy: e.session.busy,
          held: true,
        };
      });
      const dirs = [defaultCacheDir(), ...[...entries.values()].flatMap((e) => (e.cache.dir ? [e.cache.dir] : [])), ...cacheDirs];
      const onDisk: SessionStatus[] = [];
      for (const f of await tokenFiles(dirs)) {
        if (entries.has(f.key) || !f.tokens) continue;
        onDisk.push(fileStatus({ ...f, tokens: f.tokens }));
      }
      return [...live, ...onDisk];
    },

    /** True while a login or refresh is running: the agent must not exit under it. */
    busy(): boolean {
      return [...entries.values()].some((e) => e.session.busy);
    },

    /** For tests and the agent's status: how much this registry holds. */
    get size(): { sessions: number; identities: number } {
      return { sessions: entries.size, identities: identities.size };
    },

    async close(): Promise<void> {
      clearInterval(sweeper);
      const all = [...entries.values()];
      for (const e of all) drop(e);
      await Promise.all(all.map((e) => e.issuer.close().catch(() => {})));
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;
