/**
 * Issue 17 item 4 with the real parts: the rig's oidc-provider issuing ID tokens that live 30 days
 * (past setTimeout's 24.8 days) and ones whose exp is 10^12, real kubectl, the real agent. The
 * password grant logs in, so no browser is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertClearFailure, createWorld, execInfo, requireTools } from './world.js';
import { PASSWORD_FOR_TESTS } from '../rig/issuer.js';

const skip = requireTools();
const DAY = 86_400;

test('ID token lifetimes at the edges, through the agent', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const password = { KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS };

  await t.test('a 30-day ID token: five kubectl runs cost one login and no refresh grant (the refresh timer does not overflow to 1 ms)', async () => {
    w.issuer.setIdTokenTtl(30 * DAY);
    const kubeconfig = await w.kubeconfig('kubeconfig-30d', {}, ['--username=alice', `--token-cache-dir=${join(w.dir, 'cache-30d')}`]);
    for (let i = 0; i < 5; i++) {
      const r = await w.kubectl(['auth', 'whoami'], { kubeconfig, env: password });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /alice@example\.com/);
    }
    const status = await w.plugin(['agent', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual({ password: w.issuer.stats.tokenRequests.password, refresh: w.issuer.stats.tokenRequests.refresh_token }, { password: 1, refresh: 0 });
    assert.equal(await w.launches(), 0);
  });

  await t.test('an exp of 10^12 (year 33658) and of 10^15: refused in one line, nothing served or kept', async () => {
    for (const exp of [1e12, 1e15]) {
      w.issuer.setIdTokenTtl(exp - Math.floor(Date.now() / 1000));
      await w.stopAgent(); // forget the 30-day session (the same identity); the new cache dir is empty
      const cache = join(w.dir, `cache-${exp}`);
      const r = await w.plugin(['get-token', ...w.tokenArgs, '--username=alice', `--token-cache-dir=${cache}`], { env: { ...execInfo(false), ...password } });
      assertClearFailure(r, 1, new RegExp(`the issuer's ID token was rejected: its exp \\(1\\d{${Math.log10(exp)}}\\) is not a usable time`));
      assert.doesNotMatch(r.stderr, /Invalid time value|NaN/);
    }
  });
});
