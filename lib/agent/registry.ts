import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { readdir } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { CacheConfig, ProviderConfig, TokenFlags } from '../config.js';
import { scopesFor } from '../oidc/provider.js';
import { claimsOf, identityOf } from '../jwt.js';
import type { Caller, LogoutResult, SessionStatus } from '../protocol/wire.js';
import type { IssuerClient } from '../oidc/issuer.js';
import type { login as loginFn } from '../login/index.js';
import type { openBrowser as OpenBrowser } from '../login/browser.js';
import { cacheDir as defaultCacheDir } from '../store/dirs.js';
import { createFileStore } from '../store/file.js';
import { createKeyringStore, isKeyringAbsent } from '../store/keyring.js';
import { acquireLock } from '../store/lock.js';
import { openStore as defaultOpenStore } from '../store/select.js';
import type { TokenSet, TokenStore } from '../store/types.js';
import { findKubeloginSession, kubeloginCacheDir } from '../store/kubelogin.js';
import { loadCustomCAs } from '../oidc/ca.js';
import { createIdentities, type AccountSelectors } from './identity.js';
import { Session, refreshMargin } from './session.js';
import { timerDelay } from '../time.js';

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

export type CreateIssuer = (provider: ProviderConfig, cas: readonly string[]) => IssuerClient;

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
  timer?: NodeJS.Timeout | undefined;
  nextRefreshAt?: number | undefined;
  scheduledFor?: TokenSet | undefined;
  failures: number;
}

export const DEFAULT_MAX_SESSIONS = 64;
/** A revocation is a courtesy to the issuer: it must not hold a logout for long. */
const REVOKE_TIMEOUT_MS = 15_000;

/** Only what the identity reads: the entry must not keep a caller's password. */
const accountOf = (ui: AccountSelectors): AccountSelectors => ({ ...(ui.username ? { username: ui.username } : {}), authRequestExtraParams: ui.authRequestExtraParams });

const unique = (xs: (string | undefined)[]): string[] => [...new Set(xs.filter((x): x is string => typeof x === 'string' && x !== ''))];

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
  const createIssuer = deps.createIssuer ?? ((p, cas) => lazyIssuer(p, cas, now));
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
      entry = { key, provider, account, issuer: createIssuer(provider, cas), session, cache, storeNotice: notice, noticeShown: false, saidNotices: new Set(), network: {}, failures: 0 };
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
    entries.delete(e.key);
    clearTimeout(e.timer);
    e.session.close();
    void e.issuer.close().catch(() => {});
  }

  function schedule(entry: Entry): void {
    if (!deps.background) return;
    const t = entry.session.peek();
    if (entry.timer && entry.scheduledFor === t) return; // already planned for this token
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.nextRefreshAt = undefined;
    entry.scheduledFor = t;
    if (!t?.refreshToken) return;
    const nowMs = now();
    if (nowMs - entry.session.lastUsed > idleMs) return;
    // Refresh well before callers would have to wait: at twice the margin before expiry.
    const at = (t.expiresAt - 2 * refreshMargin(t)) * 1000;
    const backoff = entry.failures === 0 ? 0 : Math.min(60_000, 5_000 * 2 ** (entry.failures - 1));
    const delay = Math.max(1_000, at - nowMs, backoff);
    if (nowMs + delay >= t.expiresAt * 1000 && entry.failures > 0) return;
    entry.nextRefreshAt = Math.floor((nowMs + delay) / 1000);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.nextRefreshAt = undefined;
      // An ID token living past setTimeout's 24.8 days: the clamped timer fired early, plan again.
      if (timerDelay(delay) < delay) return schedule(entry);
      entry.session
        .refresh(entry.network)
        .then((next) => {
          entry.failures = 0;
          if (next.expiresAt > t.expiresAt) schedule(entry);
          // Else no new ID token from the issuer (kubelogin#536): refreshing again would only spin
          // the refresh token. The next request after expiry logs in.
        })
        .catch((err: Error) => {
          entry.failures++;
          deps.log.warn(`session ${entry.key.slice(0, 8)}: background refresh failed: ${err.message}`);
          schedule(entry);
        });
    }, timerDelay(delay));
    entry.timer.unref();
  }

  /** Token files (`<key>.json`) in the default dir, the sessions' dirs and `extra`, once each. */
  async function listFiles(extra: string[]): Promise<{ dir: string; key: string; tokens: TokenSet | undefined }[]> {
    const dirs = new Set([defaultCacheDir(), ...[...entries.values()].flatMap((e) => (e.cache.dir ? [e.cache.dir] : [])), ...extra]);
    const out: { dir: string; key: string; tokens: TokenSet | undefined }[] = [];
    for (const dir of dirs) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const m = /^([0-9a-f]{64})\.json$/.exec(name);
        if (!m) continue;
        out.push({ dir, key: m[1]!, tokens: await createFileStore(dir).load(m[1]!) });
      }
    }
    return out;
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
      entry.failures = 0;
      schedule(entry);
      return t;
    },

    /**
     * Forget a session everywhere it may be, whatever storage the caller names now: this agent's
     * memory, the token files (the caller's dir, the session's and the default), and the keyring item.
     * The refresh tokens found there are read first and revoked at the issuer after the session is
     * forgotten here: a slow or failing issuer never keeps a session on this machine.
     */
    async logout(provider: ProviderConfig, ui: AccountSelectors, cache: CacheConfig, env: Record<string, string>): Promise<LogoutResult> {
      const { key, cas } = await identities.resolve(provider, accountOf(ui));
      const result: LogoutResult = { cleared: [], problems: [], notes: [], revoked: [], notRevoked: [] };
      const entry = entries.get(key) ?? (await creating.get(key)?.catch(() => undefined));
      const dirs = new Set([cache.dir ?? defaultCacheDir(), defaultCacheDir(), ...(entry?.cache.dir ? [entry.cache.dir] : [])]);
      const files = [...dirs].map((dir) => ({ dir, file: createFileStore(dir) })).filter(({ file }) => existsSync(file.pathFor(key)));
      const keyring = createKeyringStore();
      const held = [entry?.session.peek()];
      for (const { file } of files) held.push(await file.load(key));
      held.push(await keyring.load(key).catch(() => undefined));
      const refreshTokens = unique(held.map((t) => t?.refreshToken));
      if (entry) {
        await entry.session.forget();
        drop(entry);
        result.cleared.push('agent memory');
      }
      for (const { dir, file } of files) {
        await file.delete(key).then(
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
      const issuer = createIssuer(provider, cas);
      try {
        await revokeAll(issuer, refreshTokens, env, result);
      } finally {
        void issuer.close().catch(() => {});
      }
      return result;
    },

    /**
     * `logout --all`: every session in this agent's memory and in the token files of `cacheDirs`
     * (with the default dir and the sessions' own). A session known only from its file is revoked
     * at the issuer and client its ID token names, trusting the system roots and `cas`.
     */
    async logoutAll(opts: { cacheDirs: string[]; caFiles: string[]; caData: string[]; env: Record<string, string> }): Promise<LogoutResult> {
      const result: LogoutResult = { cleared: [], problems: [], notes: [], revoked: [], notRevoked: [] };
      const work: { issuer: IssuerClient; tokens: string[]; own: boolean }[] = [];
      for (const entry of [...entries.values()]) {
        const tokens = unique([entry.session.peek()?.refreshToken, (await entry.session.storedTokens().catch(() => undefined))?.refreshToken]);
        await entry.session.forget().then(
          () => result.cleared.push(`agent memory: ${entry.provider.issuerUrl} client ${entry.provider.clientId}`),
          (err: Error) => result.problems.push(err.message),
        );
        entries.delete(entry.key);
        clearTimeout(entry.timer);
        entry.session.close();
        // The entry's issuer client knows the session's CA and secret: it revokes, then closes.
        work.push({ issuer: entry.issuer, tokens, own: true });
      }
      let cas: string[] | undefined;
      for (const found of await listFiles(opts.cacheDirs)) {
        await createFileStore(found.dir).delete(found.key).then(
          () => result.cleared.push(`the token file ${found.key.slice(0, 12)} in ${found.dir}`),
          (err: Error) => result.problems.push(err.message),
        );
        const t = found.tokens;
        if (!t?.refreshToken) continue;
        const c = claimsOf(t.idToken);
        const aud = Array.isArray(c.aud) ? c.aud[0] : c.aud;
        if (typeof c.iss !== 'string' || typeof aud !== 'string') {
          result.notRevoked.push(`a refresh token in ${found.dir}: its ID token names no issuer or client`);
          continue;
        }
        try {
          cas ??= await loadCustomCAs(opts.caFiles, opts.caData);
        } catch (err) {
          result.notRevoked.push(`the refresh token for ${c.iss}: ${(err as Error).message}`);
          continue;
        }
        const provider: ProviderConfig = { issuerUrl: c.iss, clientId: aud, extraScopes: [], caFiles: opts.caFiles, caData: opts.caData, offlineAccess: true, insecureSkipTlsVerify: false };
        work.push({ issuer: createIssuer(provider, cas), tokens: [t.refreshToken], own: true });
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
    },

    /**
     * What status shows: the sessions in memory, then those found only in token files (the default
     * dir, the sessions' own and `cacheDirs`). The keyring cannot be listed without unlocking every item.
     */
    async status(cacheDirs: string[] = []): Promise<SessionStatus[]> {
      const live: SessionStatus[] = [...entries.values()].map((e) => {
        const t = e.session.peek();
        const who = t ? identityOf(claimsOf(t.idToken)) : {};
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
          ...(e.nextRefreshAt ? { nextRefreshAt: e.nextRefreshAt } : {}),
          busy: e.session.busy,
          held: true,
        };
      });
      const onDisk: SessionStatus[] = [];
      for (const f of await listFiles(cacheDirs)) {
        if (entries.has(f.key) || !f.tokens) continue;
        const c = claimsOf(f.tokens.idToken);
        const aud = Array.isArray(c.aud) ? c.aud[0] : c.aud;
        onDisk.push({
          key: f.key,
          issuerUrl: typeof c.iss === 'string' ? c.iss : 'unknown',
          clientId: typeof aud === 'string' ? aud : 'unknown',
          storage: 'file',
          cacheDir: f.dir,
          ...identityOf(c),
          expiresAt: f.tokens.expiresAt,
          hasRefreshToken: Boolean(f.tokens.refreshToken),
          busy: false,
          held: false,
        });
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

/**
 * The OIDC stack (openid-client, jose, undici) is most of the agent's start-up time and a cached
 * token needs none of it: load it on the first login or refresh (a bundle of its own, dist/oidc.cjs).
 */
function lazyIssuer(provider: ProviderConfig, cas: readonly string[], now: () => number): IssuerClient {
  let real: Promise<IssuerClient> | undefined;
  const get = () => (real ??= import('../oidc/issuer.js').then((m) => m.createIssuerClient(provider, { cas, now })));
  return {
    issuerUrl: provider.issuerUrl,
    insecure: provider.insecureSkipTlsVerify,
    authorizationUrl: async (p, c) => (await get()).authorizationUrl(p, c),
    capabilities: async (c) => (await get()).capabilities(c),
    deviceAuthorization: async (c) => (await get()).deviceAuthorization(c),
    pollDevice: async (d, c) => (await get()).pollDevice(d, c),
    passwordGrant: async (u, p, c) => (await get()).passwordGrant(u, p, c),
    clientCredentialsGrant: async (e, c) => (await get()).clientCredentialsGrant(e, c),
    exchangeCode: async (p, c) => (await get()).exchangeCode(p, c),
    refreshGrant: async (rt, c) => (await get()).refreshGrant(rt, c),
    verify: async (t, o, c) => (await get()).verify(t, o, c),
    revoke: async (rt, c) => (await get()).revoke(rt, c),
    close: async () => {
      if (real) await (await real).close();
    },
  };
}
