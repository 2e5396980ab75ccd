import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createScheduler, type Refreshable } from '../../lib/agent/scheduler.js';
import type { Session } from '../../lib/agent/session.js';
import type { TokenSet } from '../../lib/store/types.js';
import type { Logger } from '../../lib/log.js';

const T0 = Date.UTC(2026, 11, 5, 12);

/** A session that holds one hour-long token and whose refreshes do what `refresh` says; the clock is moved by hand. */
function world(refresh: () => Promise<TokenSet>) {
  let clock = T0;
  const warnings: string[] = [];
  const log = { info: () => {}, warn: (m: string) => warnings.push(m), debug: () => {}, error: () => {} } as unknown as Logger;
  const token: TokenSet = { idToken: 'x', refreshToken: 'r', issuedAt: T0 / 1000, expiresAt: T0 / 1000 + 3600 };
  let refreshes = 0;
  const session = {
    lastUsed: T0,
    peek: () => token,
    refresh: () => {
      refreshes++;
      return refresh();
    },
  } as unknown as Session;
  const target: Refreshable = { key: 'k'.repeat(64), session, network: {} };
  const scheduler = createScheduler({ log, now: () => clock, idleMs: 2 * 3_600_000 });
  const advance = async (ms: number) => {
    clock += ms;
    mock.timers.tick(ms);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return { scheduler, target, token, warnings, advance, refreshes: () => refreshes, session };
}

test('the refresh is planned at twice the margin before expiry, once per token, and a cancelled plan never fires', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const w = world(async () => assert.fail('cancelled: no refresh expected'));
    w.scheduler.served(w.target);
    w.scheduler.served(w.target); // the same token: the same plan
    assert.equal(w.scheduler.nextRefreshAt(w.target), w.token.expiresAt - 600);
    w.scheduler.cancel(w.target);
    assert.equal(w.scheduler.nextRefreshAt(w.target), undefined);
    await w.advance(3_600_000);
    assert.equal(w.refreshes(), 0);
  } finally {
    mock.timers.reset();
  }
});

test('a failing background refresh backs off (5 s, 10 s, ...), warns each time, and stops planning once the token would be expired', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const w = world(async () => {
      throw new Error('issuer down');
    });
    w.scheduler.served(w.target);
    await w.advance(3_000_000); // to the planned time: the first try fails
    assert.equal(w.refreshes(), 1);
    assert.equal(w.scheduler.nextRefreshAt(w.target), (T0 + 3_005_000) / 1000, 'again in 5 s');
    await w.advance(5_000);
    assert.equal(w.refreshes(), 2);
    assert.equal(w.scheduler.nextRefreshAt(w.target), (T0 + 3_015_000) / 1000, 'then in 10 s');
    assert.equal(w.warnings.length, 2);
    assert.match(w.warnings[0]!, /^session kkkkkkkk: background refresh failed: issuer down$/);
    // Backing off at most a minute at a time, it gives up when the next try would come after expiry.
    for (let i = 0; i < 20 && w.scheduler.nextRefreshAt(w.target) !== undefined; i++) await w.advance(60_000);
    assert.equal(w.scheduler.nextRefreshAt(w.target), undefined);
    const n = w.refreshes();
    await w.advance(3_600_000);
    assert.equal(w.refreshes(), n, 'no more tries');
  } finally {
    mock.timers.reset();
  }
});

test('a session unused for the idle time is not refreshed in the background', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const w = world(async () => assert.fail('idle: no refresh expected'));
    await w.advance(2 * 3_600_000 + 1);
    w.scheduler.served(w.target);
    assert.equal(w.scheduler.nextRefreshAt(w.target), undefined);
  } finally {
    mock.timers.reset();
  }
});

test('a session cancelled while its background refresh runs gets no new plan from that refresh', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let finish!: (t: TokenSet) => void;
    const w = world(() => new Promise<TokenSet>((resolve) => (finish = resolve)));
    w.scheduler.served(w.target);
    await w.advance(3_000_000); // the planned time: the refresh starts and waits on the issuer
    assert.equal(w.refreshes(), 1);
    w.scheduler.cancel(w.target); // evicted or logged out meanwhile
    finish({ ...w.token, expiresAt: w.token.expiresAt + 3600 });
    await w.advance(0);
    assert.equal(w.scheduler.nextRefreshAt(w.target), undefined, 'nothing planned for a session that is gone');
    await w.advance(7_200_000);
    assert.equal(w.refreshes(), 1, 'never refreshed again');
  } finally {
    mock.timers.reset();
  }
});
