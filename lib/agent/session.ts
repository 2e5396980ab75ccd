import { OidcError, isOidcError, isTransient } from '../errors.js';
import type { Logger } from '../log.js';
import { claimsOf } from '../jwt.js';
import type { Call, GrantResponse } from '../oidc/issuer.js';
import type { VerifiedIdToken } from '../oidc/verify.js';
import type { LoginRequest } from '../login/authcode.js';
import { accessOf } from '../login/grant.js';
import type { TokenSet, TokenStore } from '../store/types.js';
import type { Release } from '../store/lock.js';
import type { Caller } from '../protocol/wire.js';
import { MAX_ID_TOKEN_LIFETIME_SEC } from '../time.js';

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
/** Every refresh is bounded, lock wait and issuer round trips included. */
const REFRESH_TIMEOUT_MS = 60_000;

export interface TokenContext {
  interactive: boolean;
  forceRefresh: boolean;
  ui: LoginRequest['ui'];
  env: LoginRequest['env'];
  /** The person behind this request: lines (login URL, which store was chosen, ...) and questions. */
  caller: Caller;
}

/** Runs one login to completion with the settings of the caller that started it; `show` tells every waiting caller. */
export type LoginDriver = (req: LoginRequest, show: (message: string) => void, signal: AbortSignal) => Promise<TokenSet>;

/** The part of the issuer client a session needs for refreshes. */
export interface RefreshIssuer {
  refreshGrant(refreshToken: string, call: Call): Promise<GrantResponse>;
  verify(idToken: string, opts: { nonce?: string }, call: Call): Promise<VerifiedIdToken>;
}

export interface SessionDeps {
  key: string;
  store: TokenStore;
  issuer: RefreshIssuer;
  login: LoginDriver;
  /** Cross-process lock on this session (agent, in-process fallbacks, other agents). */
  lock(timeoutMs: number): Promise<Release>;
  /** Milliseconds since the epoch; injected so tests move time instead of sleeping. */
  now(): number;
  log: Logger;
  loginTimeoutMs(req: LoginRequest): number;
  /** Where to look, on the first use when the store has nothing, for another tool's session to take over (kubelogin's cache). */
  adopt?(): Promise<{ idToken: string; refreshToken: string; from: string } | undefined>;
}

/**
 * One issuer+client+scopes+CA session. However many callers ask at once there is at most one login
 * and one refresh in flight: they all wait on the same promise. This is what keeps Dex's refresh
 * token rotation from logging people out, and k9s from opening a browser tab per request.
 */
export class Session {
  private tokens: TokenSet | undefined;
  private loaded = false;
  private store: TokenStore;
  private refreshing: Promise<TokenSet> | undefined;
  private loggingIn: { promise: Promise<TokenSet>; listeners: Set<(m: string) => void>; shown: string[] } | undefined;
  private cooldownUntil = 0;
  private cooldownReason = '';
  /** Set once the issuer answered a refresh without an ID token: more refresh grants cannot help (for this agent's lifetime). */
  private refreshGivesNoIdToken = false;
  /** Bumped by logout: work started before it must not write tokens back. */
  private generation = 0;
  /** Aborted when the agent stops: a login waiting for a browser must not outlive it. */
  private readonly closing = new AbortController();
  lastUsed = 0;

  constructor(private readonly deps: SessionDeps) {
    this.store = deps.store;
  }

  get storage(): TokenStore['kind'] {
    return this.store.kind;
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

  /**
   * The store's tokens, with an exp that no verified token could have (written before exp was
   * bounded, or edited) counted as expired: the refresh token then fetches one that is verified.
   */
  private async loadStored(): Promise<TokenSet | undefined> {
    const t = await this.store.load(this.deps.key);
    if (t && t.expiresAt > this.nowSec() + MAX_ID_TOKEN_LIFETIME_SEC) {
      this.deps.log.warn(`session ${this.short}: the stored ID token's expiry is more than ${MAX_ID_TOKEN_LIFETIME_SEC / 86_400} days ahead; treating it as expired`);
      return { ...t, expiresAt: 0, issuedAt: 0 };
    }
    return t;
  }

  private async load(caller: Caller): Promise<void> {
    if (this.loaded) return;
    this.tokens = await this.loadStored();
    if (!this.tokens && this.deps.adopt) {
      // A session another tool (kubelogin) left: its refresh token, with an expiry in the past, so the
      // normal refresh below spends it under the lock and verifies the ID token that comes back.
      const found = await this.deps.adopt().catch((err: Error) => (this.deps.log.warn(`session ${this.short}: ${err.message}`), undefined));
      if (found) {
        this.tokens = { idToken: found.idToken, refreshToken: found.refreshToken, expiresAt: 0, issuedAt: 0 };
        this.deps.log.info(`session ${this.short}: taking over ${found.from}`);
        caller.notify(`kubectl-oidc: using the session kubelogin left in ${found.from} (no new login needed)`);
      }
    }
    this.loaded = true;
  }

  async getToken(ctx: TokenContext): Promise<TokenSet> {
    this.lastUsed = this.deps.now();
    await this.load(ctx.caller);
    const current = this.tokens;
    if (current && !ctx.forceRefresh && isFresh(current, this.nowSec())) return current;
    if (current?.refreshToken && !this.refreshGivesNoIdToken) {
      try {
        const t = await this.refresh(ctx.env, ctx.forceRefresh ? current : undefined);
        if (isFresh(t, this.nowSec()) || (ctx.forceRefresh && t.expiresAt > this.nowSec())) return t;
        this.deps.log.info(`session ${this.short}: the issuer gave no new ID token on refresh; logging in again`);
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
  refresh(network: Record<string, string>, force?: TokenSet): Promise<TokenSet> {
    this.refreshing ??= (async () => {
      const generation = this.generation;
      const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(REFRESH_TIMEOUT_MS)]);
      const release = await this.deps.lock(30_000);
      try {
        signal.throwIfAborted();
        const stored = await this.loadStored();
        if (stored && stored.idToken !== force?.idToken && stored.idToken !== this.tokens?.idToken && isFresh(stored, this.nowSec())) {
          this.tokens = stored;
          return stored;
        }
        const base = stored ?? this.tokens;
        if (!base?.refreshToken) throw new OidcError('E_REFRESH_REJECTED', 'no refresh token');
        const call = { network, signal };
        let grant: GrantResponse;
        try {
          grant = await this.deps.issuer.refreshGrant(base.refreshToken, call);
        } catch (err) {
          if (isOidcError(err, 'E_REFRESH_REJECTED')) await this.end(generation, 'the issuer refused the refresh token');
          throw err;
        }
        // The old refresh token is spent. Keep the new one before anything else can fail (a key-set
        // outage during verification, a crash): with Dex's rotation, losing it means a new login.
        // Only the refresh token: nothing else of an answer is used before it is verified.
        const rotated: TokenSet = { ...base, ...(grant.refreshToken ? { refreshToken: grant.refreshToken } : {}) };
        if (grant.refreshToken && grant.refreshToken !== base.refreshToken) await this.save(rotated, generation);
        // An answer the issuer client refused (malformed): the new refresh token above is kept, the rest is not used.
        if (grant.rejected) throw grant.rejected;
        if (!grant.idToken) {
          this.refreshGivesNoIdToken = true;
          this.deps.log.warn(`session ${this.short}: the issuer's refresh answer had no ID token (kubelogin#536); a login will be needed when this one expires`);
          const withAccess: TokenSet = { ...rotated, ...accessOf(grant, this.nowSec()) };
          if (grant.accessToken) await this.save(withAccess, generation);
          return withAccess;
        }
        let v: VerifiedIdToken;
        try {
          v = await this.deps.issuer.verify(grant.idToken, {}, call);
        } catch (err) {
          // An outage: the next try refreshes again, with the new refresh token. Anything else is a token we must not use.
          // A key set that is down, garbled or cut short (E_ISSUER_*) says nothing against the token: keep the session.
          // A rejected token (bad aud, exp, signature) is not served. While the current ID token is still
          // valid the session keeps it and the rotated refresh token saved above (the issuer may mend);
          // once it has expired, refreshing again would only repeat this: the session ends, a login follows.
          if (!isTransient(err) && isOidcError(err, 'E_ID_TOKEN_INVALID')) {
            if (base.expiresAt - 5 > this.nowSec()) this.deps.log.warn(`session ${this.short}: the refreshed ID token was rejected (${(err as Error).message}); keeping the current one until it expires`);
            else await this.end(generation, `the refreshed ID token was rejected (${(err as Error).message})`);
          }
          throw err;
        }
        const before = claimsOf(base.idToken);
        // OpenID Connect Core §12.2: a refreshed ID token is for the same user from the same issuer.
        if (v.claims.sub !== before.sub || (before.iss !== undefined && v.claims.iss !== before.iss)) {
          await this.end(generation, 'the refreshed ID token is for another subject');
          throw new OidcError('E_ID_TOKEN_INVALID', "the issuer's refreshed ID token is for another user (its sub differs from the session's); the session was ended", {
            hint: 'log in again with `kubectl oidc login`; report this to your issuer admin',
          });
        }
        const next: TokenSet = {
          idToken: grant.idToken,
          expiresAt: v.expiresAt,
          issuedAt: v.issuedAt,
          ...(rotated.refreshToken ? { refreshToken: rotated.refreshToken } : {}),
          ...accessOf(grant, this.nowSec()),
        };
        await this.save(next, generation);
        this.deps.log.info(`session ${this.short}: refreshed; ID token valid until ${new Date(next.expiresAt * 1000).toISOString()}`);
        return next;
      } finally {
        await release();
      }
    })().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** End the session (a refused or unusable refresh): the next request logs in. */
  private async end(generation: number, why: string): Promise<void> {
    if (generation !== this.generation) return;
    this.deps.log.info(`session ${this.short}: ${why}; a new login is needed`);
    this.tokens = undefined;
    await this.store.delete(this.deps.key).catch((err: Error) => this.deps.log.warn(`session ${this.short}: ${err.message}`));
  }

  private async save(t: TokenSet, generation: number): Promise<void> {
    if (generation !== this.generation) return; // logged out meanwhile: nothing goes back to disk
    this.tokens = t;
    try {
      await this.store.save(this.deps.key, t);
    } catch (err) {
      // The token is good; only persistence failed. Keep serving it from memory and say so.
      this.deps.log.error(err, `session ${this.short}: cannot save tokens`);
    }
  }

  private login(ctx: TokenContext): Promise<TokenSet> {
    const notify = (m: string) => ctx.caller.notify(m);
    if (this.loggingIn) {
      const l = this.loggingIn;
      for (const m of l.shown) notify(m);
      l.listeners.add(notify);
      return l.promise.finally(() => l.listeners.delete(notify));
    }
    if (!ctx.interactive && this.deps.now() < this.cooldownUntil) {
      return Promise.reject(
        new OidcError('E_LOGIN_REQUIRED', `login required: the last browser login was not completed (${this.cooldownReason})`, {
          hint: 'run `kubectl oidc login` (with the same flags) in a terminal, or run kubectl in a terminal',
        }),
      );
    }
    const listeners = new Set<(m: string) => void>([notify]);
    const shown: string[] = [];
    const show = (m: string) => {
      shown.push(m);
      for (const l of listeners) l(m);
    };
    // The caller that starts the login decides how it looks: its browser, display, port, timeout, its terminal.
    const req: LoginRequest = { ui: ctx.ui, env: ctx.env, interactive: ctx.interactive, prompt: (m, secret) => ctx.caller.prompt(m, secret) };
    const timeoutMs = this.deps.loginTimeoutMs(req);
    const generation = this.generation;
    const promise = (async () => {
      const release = await this.deps.lock(timeoutMs + 30_000);
      try {
        // Someone else (another agent, an in-process fallback) may have logged in while we waited.
        const stored = await this.loadStored();
        if (stored && isFresh(stored, this.nowSec()) && stored.idToken !== this.tokens?.idToken) {
          this.tokens = stored;
          return stored;
        }
        const t = await this.deps.login(req, show, AbortSignal.any([this.closing.signal, AbortSignal.timeout(timeoutMs + 5_000)]));
        await this.save(t, generation);
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
    return promise.finally(() => listeners.delete(notify));
  }

  /**
   * Keep this session's tokens in `next` from now on (a caller with other cache settings): moved,
   * not copied, since two copies of a rotating refresh token diverge.
   */
  async moveTo(next: TokenStore): Promise<void> {
    const release = await this.deps.lock(30_000);
    try {
      const tokens = this.loaded ? this.tokens : await this.loadStored();
      if (tokens) await next.save(this.deps.key, tokens);
      await this.store.delete(this.deps.key).catch((err: Error) => this.deps.log.warn(`session ${this.short}: ${err.message}`));
      this.store = next;
      this.tokens = tokens;
      this.loaded = true;
    } finally {
      await release();
    }
  }

  /** Stop: cancel a login or refresh in progress (its callback listener closes with it). */
  close(): void {
    this.closing.abort(new OidcError('E_AGENT', 'the agent is stopping; run the command again'));
  }

  /** The tokens in this session's store now (logout reads the refresh token before forgetting it). */
  async storedTokens(): Promise<TokenSet | undefined> {
    return this.store.load(this.deps.key);
  }

  /** Forget the session here and in its store (logout). Work in flight will not write it back. */
  async forget(): Promise<void> {
    this.generation++;
    this.tokens = undefined;
    this.loaded = true;
    this.refreshGivesNoIdToken = false;
    this.cooldownUntil = 0;
    const release = await this.deps.lock(30_000);
    try {
      await this.store.delete(this.deps.key);
    } finally {
      await release();
    }
  }

  private get short(): string {
    return this.deps.key.slice(0, 8);
  }
}
