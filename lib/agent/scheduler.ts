import type { Logger } from '../log.js';
import type { TokenSet } from '../store/types.js';
import { timerDelay } from '../time.js';
import { refreshMargin, type Session } from './session.js';

/** What a background refresh needs of a registry entry; `network` is read when the timer fires (the last caller's). */
export interface Refreshable {
  readonly key: string;
  readonly session: Session;
  readonly network: Record<string, string>;
}

interface Plan {
  timer?: NodeJS.Timeout | undefined;
  /** Seconds since the epoch, for status. */
  nextRefreshAt?: number | undefined;
  /** The token the timer was planned for: a request serving the same one plans nothing new. */
  scheduledFor?: TokenSet | undefined;
  failures: number;
}

/**
 * The agent's background refresh: one timer per session, at twice the refresh margin before the ID
 * token expires, so that kubectl never waits on the issuer. Failures back off (5 s doubling, at most
 * a minute) and stop once the token would be expired anyway. Sessions unused for `idleMs` are not refreshed.
 */
export function createScheduler(deps: { log: Logger; now: () => number; idleMs: number }) {
  const { log, now, idleMs } = deps;
  const plans = new Map<Refreshable, Plan>();

  function schedule(target: Refreshable, plan: Plan): void {
    const t = target.session.peek();
    if (plan.timer && plan.scheduledFor === t) return; // already planned for this token
    clearTimeout(plan.timer);
    plan.timer = undefined;
    plan.nextRefreshAt = undefined;
    plan.scheduledFor = t;
    if (!t?.refreshToken) return;
    const nowMs = now();
    if (nowMs - target.session.lastUsed > idleMs) return;
    // Refresh well before callers would have to wait: at twice the margin before expiry.
    const at = (t.expiresAt - 2 * refreshMargin(t)) * 1000;
    const backoff = plan.failures === 0 ? 0 : Math.min(60_000, 5_000 * 2 ** (plan.failures - 1));
    const delay = Math.max(1_000, at - nowMs, backoff);
    if (nowMs + delay >= t.expiresAt * 1000 && plan.failures > 0) return;
    plan.nextRefreshAt = Math.floor((nowMs + delay) / 1000);
    plan.timer = setTimeout(() => {
      plan.timer = undefined;
      plan.nextRefreshAt = undefined;
      // An ID token living past setTimeout's 24.8 days: the clamped timer fired early, plan again.
      if (timerDelay(delay) < delay) return schedule(target, plan);
      target.session
        .refresh(target.network)
        .then((next) => {
          if (plans.get(target) !== plan) return; // cancelled (evicted, logged out) while refreshing
          plan.failures = 0;
          if (next.expiresAt > t.expiresAt) schedule(target, plan);
          // Else no new ID token from the issuer (kubelogin#536): refreshing again would only spin
          // the refresh token. The next request after expiry logs in.
        })
        .catch((err: Error) => {
          if (plans.get(target) !== plan) return;
          plan.failures++;
          log.warn(`session ${target.key.slice(0, 8)}: background refresh failed: ${err.message}`);
          schedule(target, plan);
        });
    }, timerDelay(delay));
    plan.timer.unref();
  }

  return {
    /** A token was just served from this session: plan its next refresh (a served token also ends a failure streak). */
    served(target: Refreshable): void {
      let plan = plans.get(target);
      if (!plan) plans.set(target, (plan = { failures: 0 }));
      plan.failures = 0;
      schedule(target, plan);
    },

    /** When the next background refresh of this session is due (seconds since the epoch), if one is planned. */
    nextRefreshAt(target: Refreshable): number | undefined {
      return plans.get(target)?.nextRefreshAt;
    },

    /** The session is gone from the registry: no refresh for it any more. */
    cancel(target: Refreshable): void {
      clearTimeout(plans.get(target)?.timer);
      plans.delete(target);
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
