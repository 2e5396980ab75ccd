import { OidcError, isOidcError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Oidc } from '../oidc/client.js';
import type { TokenSet, TokenStore } from '../store/types.js';
import type { Release } from '../store/lock.js';

/** Seconds before `exp` at which a token stops being handed out: 1/4 of its lifetime, at most 5 minutes. */
export function refreshMargin(t: TokenSet): number {
  const lifetime = Math.max(1, t.expiresAt - t.issuedAt);
  return Math.min(300, lifetime / 4);
}

export function isFresh(t: TokenSet, nowSec: number): boolean {
  return nowSec < t.expiresAt - refreshMargin(t);
}

/** How long after a failed or abandoned login a non-interactive caller gets "login required" instead of a browser tab. */
export const LOGIN_COOLDOWN_MS = 5 * 60_000;

export interface TokenContext {
  interactive: boolean;
  forceRefresh: boolean;
  /** Lines for the person behind this caller (login URL, which store was chosen, ...). */
  notify(message: string): void;
}

export interface LoginDriver {
  /** Run one login to completion; `show` tells every waiting caller the URL. */
  (show: (message: string) => void, signal: AbortSignal): Promise<TokenSet>;
}

export interface SessionDeps {
  key: string;
  store: TokenStore;
  oidc: Oidc;
  login: LoginDriver;
  /** Cross-process lock on this session (agent, in-process fallbacks, other agents). */
  lock(timeoutMs: number): Promise<Release>;
  /** Milliseconds since the epoch; injected so tests move time instead of sleeping. */
  now(): number;
  log: Logger;
  loginTimeoutMs: number;
}

/**
 * One issuer+client+scopes+CA session. However many callers ask at once there is at most one login
 * and one refresh in flight: they all wait on the same promise. This is what keeps Dex's refresh
 * token rotation from logging people out, and k9s from opening a browser tab per request.
 */
export class Session {
  private tokens: TokenSet | undefined;
  private loaded = false;
  private refreshing: Promise<TokenSet> | undefined;
  private loggingIn: { promise: Promise<TokenSet>; listeners: Set<(m: string) => void>; shown: string[] } | undefined;
  private cooldownUntil = 0;
  private cooldownReason = '';
  /** Aborted when the agent stops: a login waiting for a browser must not outlive it. */
  private readonly closing = new AbortController();
  lastUsed = 0;

  constructor(private readonly deps: SessionDeps) {}

  get key(): string {
    return this.deps.key;
  }

  get busy(): boolean {
    return this.refreshing !== undefined || this.loggingIn !== undefined;
  }

  /** The token set as known now (for status and the background refresher); no I/O. */
  peek(): TokenSet | undefined {
    return this.tokens;
  }

  private nowSec(): number {
    return this.deps.now() / 1000;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.tokens = await this.deps.store.load(this.deps.key);
    this.loaded = true;
  }

  async getToken(ctx: TokenContext): Promise<TokenSet> {
    this.lastUsed = this.deps.now();
    await this.load();
    const current = this.tokens;
    if (current && !ctx.forceRefresh && isFresh(current, this.nowSec())) return current;
    if (current?.refreshToken) {
      try {
        const t = await this.refresh(ctx.forceRefresh ? current : undefined);
        if (isFresh(t, this.nowSec()) || (ctx.forceRefresh && t.expiresAt > this.nowSec())) return t;
        this.deps.log.info(`session ${this.short}: the refreshed ID token is not fresh (no new ID token from the issuer?); logging in again`);
      } catch (err) {
        if (!isOidcError(err, 'E_REFRESH_REJECTED')) {
          // The issuer is unreachable or broken: a token that has not yet expired is still better than failing.
          const t = this.tokens;
          if (t && t.expiresAt - 5 > this.nowSec()) {
            this.deps.log.warn(`session ${this.short}: refresh failed (${(err as Error).message}); using the current token until it expires`);
            return t;
          }
          throw err;
        }
      }
    }
    return this.login(ctx);
  }

  /**
   * Single-flight refresh. Under the cross-process lock, the store is read again first: another
   * process may have refreshed already, and presenting the old (rotated) refresh token would fail.
   * `force` names the token set the caller considers spent even if fresh.
   */
  refresh(force?: TokenSet): Promise<TokenSet> {
    this.refreshing ??= (async () => {
      const release = await this.deps.lock(30_000);
      try {
        const stored = await this.deps.store.load(this.deps.key);
        if (stored && stored.idToken !== force?.idToken && stored.idToken !== this.tokens?.idToken && isFresh(stored, this.nowSec())) {
          this.tokens = stored;
          return stored;
        }
        const base = stored ?? this.tokens;
        if (!base?.refreshToken) throw new OidcError('E_REFRESH_REJECTED', 'no refresh token');
        let next: TokenSet;
        try {
          next = await this.deps.oidc.refresh(base, AbortSignal.timeout(60_000));
        } catch (err) {
          if (isOidcError(err, 'E_REFRESH_REJECTED')) {
            this.deps.log.info(`session ${this.short}: refresh token rejected; a new login is needed`);
            this.tokens = undefined;
            await this.deps.store.delete(this.deps.key).catch(() => {});
          }
          throw err;
        }
        await this.save(next);
        this.deps.log.info(`session ${this.short}: refreshed; ID token valid until ${new Date(next.expiresAt * 1000).toISOString()}`);
        return next;
      } finally {
        await release();
      }
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async save(t: TokenSet): Promise<void> {
    this.tokens = t;
    try {
      await this.deps.store.save(this.deps.key, t);
    } catch (err) {
      // The token is good; only persistence failed. Keep serving it from memory and say so.
      this.deps.log.error(err, `session ${this.short}: cannot save tokens`);
    }
  }

  private login(ctx: TokenContext): Promise<TokenSet> {
    if (this.loggingIn) {
      const l = this.loggingIn;
      for (const m of l.shown) ctx.notify(m);
      l.listeners.add(ctx.notify);
      return l.promise.finally(() => l.listeners.delete(ctx.notify));
    }
    if (!ctx.interactive && this.deps.now() < this.cooldownUntil) {
      return Promise.reject(
        new OidcError('E_LOGIN_REQUIRED', `login required: the last browser login was not completed (${this.cooldownReason})`, {
          hint: 'run `kubectl oidc login` (with the same flags) in a terminal, or run kubectl in a terminal',
        }),
      );
    }
    const listeners = new Set<(m: string) => void>([ctx.notify]);
    const shown: string[] = [];
    const show = (m: string) => {
      shown.push(m);
      for (const l of listeners) l(m);
    };
    const promise = (async () => {
      const release = await this.deps.lock(this.deps.loginTimeoutMs + 30_000);
      try {
        // Someone else (another agent, an in-process fallback) may have logged in while we waited.
        const stored = await this.deps.store.load(this.deps.key);
        if (stored && isFresh(stored, this.nowSec()) && stored.idToken !== this.tokens?.idToken) {
          this.tokens = stored;
          return stored;
        }
        const t = await this.deps.login(show, AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.deps.loginTimeoutMs + 5_000)]));
        await this.save(t);
        this.cooldownUntil = 0;
        this.deps.log.info(`session ${this.short}: logged in; ID token valid until ${new Date(t.expiresAt * 1000).toISOString()}`);
        return t;
      } catch (err) {
        // Only a login that reached the browser counts: no tab was opened for, say, an unreachable issuer.
        if (shown.length > 0) {
          this.cooldownUntil = this.deps.now() + LOGIN_COOLDOWN_MS;
          this.cooldownReason = (err as Error).message;
        }
        throw err;
      } finally {
        await release();
      }
    })().finally(() => (this.loggingIn = undefined));
    this.loggingIn = { promise, listeners, shown };
    return promise.finally(() => listeners.delete(ctx.notify));
  }

  /** Stop: cancel a login in progress (its callback listener closes with it). */
  close(): void {
    this.closing.abort(new OidcError('E_AGENT', 'the agent is stopping; run the command again'));
  }

  /** Forget the session here and in the store (logout). */
  async forget(): Promise<void> {
    const release = await this.deps.lock(30_000);
    try {
      this.tokens = undefined;
      this.loaded = true;
      await this.deps.store.delete(this.deps.key);
    } finally {
      await release();
    }
  }

  private get short(): string {
    return this.deps.key.slice(0, 8);
  }
}
