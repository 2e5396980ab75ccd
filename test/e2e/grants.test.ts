/**
 * Issue 16 items 5 and 6 end to end, against the HTTPS test issuer (oidc-provider), through the
 * plugin and the agent it starts:
 * - nobody waits on a login nobody can see: a non-interactive caller with no browser that can open
 *   gets exit 3 at once, with no request to the issuer; the device-code flow honours
 *   --authentication-timeout-sec;
 * - --oidc-request-header is on every request to the issuer;
 * - --grant-type=client-credentials gets a token with no browser, keeps it like any session, and
 *   asks again rather than opening anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { ENTRY, assertClearFailure, createWorld, execInfo, requireTools, type World } from './world.js';
import { CLIENT_SECRET, PASSWORD_FOR_TESTS, SERVICE_CLIENT_ID } from '../rig/issuer.js';
import type { KubectlResult } from '../rig/apiserver.js';

const skip = requireTools();

/** No display, no $BROWSER: on Linux no browser can open for this caller. */
const NO_DESKTOP = { DISPLAY: undefined, WAYLAND_DISPLAY: undefined, BROWSER: undefined };
const without = (w: World, ...prefixes: string[]) => w.tokenArgs.filter((a) => !prefixes.some((p) => a.startsWith(p)));
const tokenOf = (r: KubectlResult) => JSON.parse(r.stdout).status.token as string;

async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; r: T }> {
  const t0 = performance.now();
  const r = await f();
  return { ms: performance.now() - t0, r };
}

test('nobody waits on a login nobody can see', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const args = ['get-token', ...without(w, '--browser-command')];
  // The baseline: the same plugin and the same (running) agent, answering a request it refuses at once.
  const baseline = () => w.plugin([...args, '--authentication-timeout-sec=0'], { env: { ...execInfo(false), ...NO_DESKTOP } });
  assert.equal((await baseline()).code, 2, 'the baseline is a usage error (this also starts the agent)');

  const cases: [string, Record<string, string | undefined>, string[]][] = [
    ['spec.interactive false, no DISPLAY/WAYLAND_DISPLAY/BROWSER', { ...execInfo(false), ...NO_DESKTOP }, []],
    ['no KUBERNETES_EXEC_INFO and no terminal (a script)', { ...NO_DESKTOP, KUBERNETES_EXEC_INFO: undefined }, []],
    ['spec.interactive false and --skip-open-browser, though $BROWSER is set', { ...execInfo(false), BROWSER: '/bin/false' }, ['--skip-open-browser']],
  ];
  for (const [name, env, extra] of cases) {
    await t.test(`${name}: exit 3 within 1 s of the baseline, 0 requests to the issuer`, async () => {
      w.issuer.resetStats();
      const base = await timed(baseline);
      const { ms, r } = await timed(() => w.plugin([...args, ...extra], { env, timeoutMs: 30_000 }));
      assertClearFailure(r, 3, /login required: run `kubectl oidc login`/);
      assert.ok(ms - base.ms < 1_000, `answered in ${Math.round(ms)} ms, the baseline in ${Math.round(base.ms)} ms`);
      assert.deepEqual(w.issuer.stats.requests.map((q) => q.route), [], 'no request reached the issuer');
      assert.equal(await w.launches(), 0, 'no browser');
    });
  }

  await t.test('--grant-type=device-code honours --authentication-timeout-sec (the issuer would wait 10 minutes)', async () => {
    w.issuer.resetStats();
    const env = { ...process.env, ...w.env, ...execInfo(true), ...NO_DESKTOP };
    // Timed from the moment the URL is shown (the login is waiting) to the exit.
    const { shownAt, exitAt, r } = await new Promise<{ shownAt: number; exitAt: number; r: KubectlResult }>((resolve) => {
      const child = spawn(process.execPath, [ENTRY, ...args, '--grant-type=device-code', '--skip-open-browser', '--authentication-timeout-sec=2'], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let shown = NaN;
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (Number.isNaN(shown) && /https:\/\/\S+\/device/.test(stderr)) shown = performance.now();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ shownAt: shown, exitAt: performance.now(), r: { code, stdout, stderr, timedOut: false } });
      });
    });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(!Number.isNaN(shownAt), `the URL was shown: ${r.stderr}`);
    assert.match(r.stderr, /nobody approved the device login within 2 s/);
    const waited = exitAt - shownAt;
    assert.ok(waited >= 1_900, `it waited the 2 s (${Math.round(waited)} ms)`);
    // The agent's own backstop (the timeout + 5 s) would come well after this bound.
    assert.ok(waited < 3_500, `and not much more: ${Math.round(waited)} ms`);
    const polls = w.issuer.stats.tokenRequests.device_code;
    // The next request through the agent: polling has stopped (no new poll between the two).
    await baseline();
    assert.equal(w.issuer.stats.tokenRequests.device_code, polls, 'no more polling after the timeout');
  });
});

test('--oidc-request-header is sent on every request to the issuer', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const args = ['get-token', ...w.tokenArgs, '--username=alice', '--oidc-request-header=X-Gateway-Key=k1,X-Tenant=blue', '--oidc-request-header=X-Empty='];
  const env = { ...execInfo(false), KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS };

  const login = await w.plugin(args, { env });
  assert.equal(login.code, 0, login.stderr);
  const refreshed = await w.plugin([...args, '--force-refresh'], { env });
  assert.equal(refreshed.code, 0, refreshed.stderr);
  const out = await w.plugin(['logout', ...args.slice(1)], { env });
  assert.equal(out.code, 0, out.stderr);

  const routes = new Set(w.issuer.stats.requests.map((q) => q.route));
  for (const route of ['discovery', 'jwks', 'token', 'revocation']) assert.ok(routes.has(route), `a ${route} request was made: ${[...routes].join(', ')}`);
  assert.equal(w.issuer.stats.tokenRequests.password, 1);
  assert.equal(w.issuer.stats.tokenRequests.refresh_token, 1);
  for (const q of w.issuer.stats.requests) {
    assert.equal(q.headers['x-gateway-key'], 'k1', `${q.route} carries X-Gateway-Key`);
    assert.equal(q.headers['x-tenant'], 'blue', `${q.route} carries X-Tenant`);
    assert.equal(q.headers['x-empty'], '', `${q.route} carries X-Empty`);
  }
  assert.equal(await w.launches(), 0);

  await t.test('a header that would break the request is refused, naming it', async () => {
    assertClearFailure(await w.plugin([...args, '--oidc-request-header=Bad Name=x'], { env }), 2, /--oidc-request-header "Bad Name" is not a valid HTTP header/);
  });
});

test('--grant-type=client-credentials: a token with no browser, kept like any session, asked for again', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const args = [
    'get-token',
    `--oidc-issuer-url=${w.issuer.url}`,
    `--oidc-client-id=${SERVICE_CLIENT_ID}`,
    `--certificate-authority=${w.ca.caFile}`,
    '--grant-type=client-credentials',
    '--token-cache-storage=file',
  ];
  // Not interactive, no desktop: nothing here could show a browser or a prompt, and nothing needs to.
  const env = { ...execInfo(false), ...NO_DESKTOP, KUBECTL_OIDC_CLIENT_SECRET: CLIENT_SECRET };

  await t.test('the issuer returns no ID token: without --oidc-use-access-token, one clear line', async () => {
    assertClearFailure(await w.plugin(args, { env }), 1, /no ID token for the client-credentials grant/);
  });

  await t.test('with --oidc-use-access-token: the access token, from one grant, then from the session', async () => {
    w.issuer.resetStats();
    const first = await w.plugin([...args, '--oidc-use-access-token'], { env });
    assert.equal(first.code, 0, first.stderr);
    const token = tokenOf(first);
    assert.ok(token.length > 20);
    assert.equal(w.issuer.stats.tokenRequests.client_credentials, 0, 'the first case already got one: served from the session');
    await w.stopAgent();
    const again = await w.plugin([...args, '--oidc-use-access-token'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(tokenOf(again), token, 'kept in the token file across an agent restart');
    assert.equal(w.issuer.stats.tokenRequests.client_credentials, 0);
  });

  await t.test('renewal asks again: a new grant, never a browser or a login prompt', async () => {
    const before = w.issuer.stats.tokenRequests.client_credentials;
    const r = await w.plugin([...args, '--oidc-use-access-token', '--force-refresh'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(w.issuer.stats.tokenRequests.client_credentials, before + 1);
    assert.equal(w.issuer.stats.authorizations, 0);
    assert.equal(await w.launches(), 0);
  });

  await t.test('without the client secret: a clear usage error, no request', async () => {
    assertClearFailure(await w.plugin([...args, '--oidc-client-id=other-client'], { env: { ...env, KUBECTL_OIDC_CLIENT_SECRET: undefined } }), 2, /needs the client secret/);
  });
});
