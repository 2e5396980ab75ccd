import { statSync } from 'node:fs';
import type { Logger } from '../log.js';
import { openBrowser as defaultOpenBrowser } from '../browser.js';
import type { Oidc, IssuerSettings } from '../oidc/client.js';
import { caDigestOf, loadCustomCAs } from '../oidc/ca.js';
import { scopesFor, type GetTokenOptions } from '../options.js';
import { cacheDir as defaultCacheDir } from '../paths.js';
import { canonicalJson, sessionKey } from '../store/key.js';
import { acquireLock } from '../store/lock.js';
import { openStore as defaultOpenStore } from '../store/select.js';
import type { TokenSet } from '../store/types.js';
import { Session, refreshMargin } from './session.js';

export interface TokenCall {
  options: GetTokenOptions;
  interactive: boolean;
  /** The caller's forwarded environment (browser display, proxies). */
  env: Record<string, string>;
  notify(message: string): void;
}

export interface RegistryDeps {
  log: Logger;
  now?: () => number;
  openStore?: typeof defaultOpenStore;
  createOidc?: (s: IssuerSettings) => Oidc;
  openBrowser?: typeof defaultOpenBrowser;
  /** Sessions unused for this long are not refreshed in the background (and let the agent exit). */
  idleMs?: number;
  /** Refresh ahead of expiry in the background (the agent); the in-process fallback does not. */
  background?: boolean;
}

interface Entry {
  session: Session;
  oidc: Oidc;
  issuerUrl: string;
  clientId: string;
  storage: string;
  storeNotice?: string | undefined;
  noticeShown: boolean;
  timer?: NodeJS.Timeout | undefined;
  scheduledFor?: TokenSet | undefined;
  failures: number;
}

export interface SessionStatus {
  key: string;
  issuerUrl: string;
  clientId: string;
  storage: string;
  expiresAt?: number;
  hasRefreshToken: boolean;
  busy: boolean;
}

/** Every session this process knows, by configuration; the one place a TokenCall becomes a Session. */
export function createRegistry(deps: RegistryDeps) {
  const now = deps.now ?? Date.now;
  const openStore = deps.openStore ?? defaultOpenStore;
  const open = deps.openBrowser ?? defaultOpenBrowser;
  const idleMs = deps.idleMs ?? 60 * 60_000;
  const entries = new Map<string, Entry>();
  const creating = new Map<string, Promise<Entry>>();

  /** Request fingerprint -> session id: the hot path skips reading and parsing CA files and hashing. */
  const known = new Map<string, string>();

  async function entryFor(options: GetTokenOptions, env: Record<string, string>): Promise<Entry> {
    const fp = fingerprint(options, env);
    const knownId = fp && known.get(fp);
    const hit = knownId ? entries.get(knownId) : undefined;
    if (hit) return hit;
    // A changed CA file changes the fingerprint (size, mtime, inode), so it is read again and a
    // changed CA is a different session, never a stale one.
    const cas = loadCustomCAs(options.certificateAuthority, options.certificateAuthorityData);
    const caDigest = caDigestOf(cas);
    const scopes = scopesFor(options);
    const key = sessionKey({ issuerUrl: options.issuerUrl, clientId: options.clientId, scopes, caDigest });
    const dir = options.tokenCacheDir ?? defaultCacheDir();
    const id = canonicalJson({ key, dir, storage: options.tokenCacheStorage, secret: options.clientSecret ?? '', proxy: proxyVars(env) });
    if (fp) known.set(fp, id);
    const ready = entries.get(id);
    if (ready) return ready;
    // Concurrent first requests must share one session: they wait on one creation.
    let pending = creating.get(id);
    if (!pending) {
      pending = createEntry(options, env, key, dir, scopes)
        .then((e) => {
          entries.set(id, e);
          return e;
        })
        .finally(() => creating.delete(id));
      creating.set(id, pending);
    }
    return pending;
  }

  async function createEntry(options: GetTokenOptions, env: Record<string, string>, key: string, dir: string, scopes: string[]): Promise<Entry> {
    const { store, notice } = await openStore({ storage: options.tokenCacheStorage, cacheDir: dir });
    if (notice) deps.log.info(notice);
    const oidc = (deps.createOidc ?? ((s) => lazyOidc(s, () => new Date(now()))))({
      issuerUrl: options.issuerUrl,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      scopes,
      caFiles: options.certificateAuthority,
      caData: options.certificateAuthorityData,
      env,
    });
    const loginTimeoutMs = options.authenticationTimeoutSec * 1000;
    const session = new Session({
      key,
      store,
      oidc,
      now,
      log: deps.log,
      loginTimeoutMs,
      lock: (timeoutMs) => acquireLock(dir, key, { timeoutMs }),
      login: (show, signal) =>
        oidc.loginAuthCode(
          {
            listenAddresses: options.listenAddress,
            redirectUrl: options.redirectUrl,
            timeoutMs: loginTimeoutMs,
            present: async (url) => {
              if (options.skipOpenBrowser) {
                show(`Open this URL in your browser to log in:\n  ${url}`);
                return;
              }
              show(`Opening your browser to log in. If it does not open, visit:\n  ${url}`);
              deps.log.info(`session ${key.slice(0, 8)}: opening the browser for a login`);
              await open(url, { command: options.browserCommand, env: { ...process.env, ...env } }).catch((err: Error) => {
                show(`Could not start a browser (${err.message}); open the URL above yourself.`);
              });
            },
          },
          signal,
        ),
    });
    return { session, oidc, issuerUrl: options.issuerUrl, clientId: options.clientId, storage: store.kind, storeNotice: notice, noticeShown: false, failures: 0 };
  }

  function schedule(entry: Entry): void {
    if (!deps.background) return;
    const t = entry.session.peek();
    if (entry.timer && entry.scheduledFor === t) return; // already planned for this token
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.scheduledFor = t;
    if (!t?.refreshToken) return;
    const nowMs = now();
    if (nowMs - entry.session.lastUsed > idleMs) return;
    // Refresh well before callers would have to wait: at twice the margin before expiry.
    const at = (t.expiresAt - 2 * refreshMargin(t)) * 1000;
    const backoff = entry.failures === 0 ? 0 : Math.min(60_000, 5_000 * 2 ** (entry.failures - 1));
    const delay = Math.max(1_000, at - nowMs, backoff);
    if (nowMs + delay >= t.expiresAt * 1000 && entry.failures > 0) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.session
        .refresh()
        .then((next) => {
          entry.failures = 0;
          if (next.expiresAt > t.expiresAt) return schedule(entry);
          // No new ID token from the issuer (kubelogin#536): refreshing again would only spin the
          // refresh token. The next request after expiry logs in.
          deps.log.warn(`session ${entry.session.key.slice(0, 8)}: the issuer's refresh answer had no new ID token; a login will be needed when this one expires`);
        })
        .catch((err: Error) => {
          entry.failures++;
          deps.log.warn(`session ${entry.session.key.slice(0, 8)}: background refresh failed: ${err.message}`);
          schedule(entry);
        });
    }, delay);
    entry.timer.unref();
  }

  return {
    async getToken(call: TokenCall): Promise<TokenSet> {
      const entry = await entryFor(call.options, call.env);
      if (entry.storeNotice && !entry.noticeShown) {
        entry.noticeShown = true;
        call.notify(entry.storeNotice);
      }
      const t = await entry.session.getToken({ interactive: call.interactive, forceRefresh: call.options.forceRefresh, notify: call.notify });
      entry.failures = 0;
      schedule(entry);
      return t;
    },

    async logout(options: GetTokenOptions): Promise<void> {
      const entry = await entryFor(options, {});
      clearTimeout(entry.timer);
      await entry.session.forget();
      if (options.tokenCacheStorage !== 'auto') {
        // The session may also have been kept under another setting earlier: a refresh token must not
        // outlive a logout anywhere. `auto` covers the keyring (if one works) and the file.
        const { store } = await openStore({ storage: 'auto', cacheDir: options.tokenCacheDir ?? defaultCacheDir() }).catch(() => ({ store: undefined }));
        await store?.delete(entry.session.key).catch((err: Error) => deps.log.warn(`logout: ${err.message}`));
      }
    },

    status(): SessionStatus[] {
      return [...entries.values()].map((e) => {
        const t = e.session.peek();
        return {
          key: e.session.key,
          issuerUrl: e.issuerUrl,
          clientId: e.clientId,
          storage: e.storage,
          ...(t ? { expiresAt: t.expiresAt } : {}),
          hasRefreshToken: Boolean(t?.refreshToken),
          busy: e.session.busy,
        };
      });
    },

    /** True while a login or refresh is running: the agent must not exit under it. */
    busy(): boolean {
      return [...entries.values()].some((e) => e.session.busy);
    },

    async close(): Promise<void> {
      known.clear();
      for (const e of entries.values()) {
        clearTimeout(e.timer);
        e.session.close();
      }
      await Promise.all([...entries.values()].map((e) => e.oidc.close().catch(() => {})));
      entries.clear();
    },
  };
}

export type Registry = ReturnType<typeof createRegistry>;

/**
 * The OIDC stack (openid-client, jose, undici) is most of the agent's start-up time and a cached
 * token needs none of it: load it on the first login or refresh (a bundle of its own, dist/oidc.cjs).
 */
function lazyOidc(settings: IssuerSettings, now: () => Date): Oidc {
  let real: Promise<Oidc> | undefined;
  const get = () => (real ??= import('../oidc/client.js').then((m) => m.createOidc(settings, { now })));
  return {
    loginAuthCode: async (opts, signal) => (await get()).loginAuthCode(opts, signal),
    refresh: async (current, signal) => (await get()).refresh(current, signal),
    close: async () => {
      if (real) await (await real).close();
    },
  };
}

/** The caller's proxy variables: a session's HTTP client is built with them. */
function proxyVars(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => /proxy/i.test(k)));
}

/** Everything that decides the session, cheaply: the options as sent, proxy variables, CA files' identity. */
function fingerprint(options: GetTokenOptions, env: Record<string, string>): string | undefined {
  const files: string[] = [];
  for (const f of options.certificateAuthority) {
    try {
      const st = statSync(f);
      files.push(`${st.ino}:${st.size}:${st.mtimeMs}`);
    } catch {
      return undefined; // let the slow path report it
    }
  }
  return JSON.stringify([{ ...options, forceRefresh: false }, proxyVars(env), files]);
}
