/**
 * Bad input gets one or two clear lines on stderr, a non-zero exit, nothing on stdout and no stack
 * trace; the agent survives it. Run through the agent (the default path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentPid, assertClearFailure, createWorld, execInfo, requireTools, type World } from './world.js';
import { startGarbageIssuer, closedPortUrl } from '../rig/issuer.js';
import { createTestCA } from '../rig/ca.js';
import { writeBrowserWrapper, readBrowserLog } from '../rig/browser.js';

const skip = requireTools();

test('bad input', { skip, timeout: 180_000 }, async (t) => {
  const w: World = await createWorld({ browserMode: 'deny' });
  t.after(() => w.close());
  const withoutIssuer = w.tokenArgs.filter((a) => !a.startsWith('--oidc-issuer-url') && !a.startsWith('--certificate-authority'));
  const getToken = (args: string[], env: Record<string, string> = {}) => w.plugin(['get-token', ...args], { env });

  await t.test('missing --oidc-issuer-url is named, exit 2', async () => {
    assertClearFailure(await getToken(withoutIssuer), 2, /missing --oidc-issuer-url/);
  });
  await t.test('missing --oidc-client-id is named, exit 2', async () => {
    assertClearFailure(await getToken([`--oidc-issuer-url=${w.issuer.url}`]), 2, /missing --oidc-client-id/);
  });
  await t.test('an unknown flag is named, exit 2', async () => {
    assertClearFailure(await getToken([...w.tokenArgs, '--oidc-issuer=x']), 2, /unknown flag --oidc-issuer\b/);
  });
  await t.test('malformed KUBERNETES_EXEC_INFO, exit 2', async () => {
    assertClearFailure(await getToken(w.tokenArgs, { KUBERNETES_EXEC_INFO: '{"apiVersion":' }), 2, /KUBERNETES_EXEC_INFO is not valid JSON/);
  });
  await t.test('unreachable issuer: URL and cause', async () => {
    const url = await closedPortUrl();
    const r = await getToken([`--oidc-issuer-url=${url}`, ...withoutIssuer]);
    assertClearFailure(r, 1, /cannot reach https:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
  });
  await t.test('TLS failure without the CA: hint to pass --certificate-authority', async () => {
    const r = await getToken([`--oidc-issuer-url=${w.issuer.url}`, ...withoutIssuer]);
    assertClearFailure(r, 1, /TLS verification of https:\/\/127\.0\.0\.1:\d+\/dex.* failed/);
    assert.match(r.stderr, /--certificate-authority/);
  });
  await t.test("the issuer's CA only in the caller's NODE_EXTRA_CA_CERTS: trusted, though the agent runs without it", async () => {
    const r = await getToken([`--oidc-issuer-url=${w.issuer.url}`, ...withoutIssuer], { NODE_EXTRA_CA_CERTS: w.ca.caFile });
    // TLS verified: discovery worked and the browser reached the login, which this issuer denies.
    assertClearFailure(r, 1, /the issuer refused the login: access_denied/);
    const pid = agentPid(w);
    assert.ok(pid !== undefined, 'the agent served it');
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(!env.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')), 'Node did not load it at the agent start: the agent read it');
  });
  await t.test('TLS failure with the wrong CA', async () => {
    const other = await createTestCA(join(w.dir));
    const r = await getToken([`--oidc-issuer-url=${w.issuer.url}`, `--certificate-authority=${other.caFile}`, ...withoutIssuer]);
    assertClearFailure(r, 1, /TLS verification .* failed/);
  });
  await t.test('an unreadable CA file is named', async () => {
    assertClearFailure(await getToken([`--oidc-issuer-url=${w.issuer.url}`, '--certificate-authority=/no/such/ca.pem', ...withoutIssuer]), 1, /cannot read --certificate-authority \/no\/such\/ca\.pem: ENOENT/);
  });
  for (const kind of ['html', 'bad-json', 'wrong-issuer', 'error-500'] as const) {
    await t.test(`garbage from the issuer (${kind})`, async () => {
      const g = await startGarbageIssuer(w.ca, kind);
      try {
        const r = await getToken([`--oidc-issuer-url=${g.url}`, `--certificate-authority=${w.ca.caFile}`, ...withoutIssuer]);
        assertClearFailure(r, 1, kind === 'error-500' ? /the issuer failed discovery at .*: HTTP 500/ : /the issuer's answer to discovery .* is not (usable|JSON|valid JSON)/);
      } finally {
        await g.close();
      }
    });
  }
  await t.test('the issuer refuses the login at the callback (access_denied)', async () => {
    const r = await getToken(w.tokenArgs);
    assertClearFailure(r, 1, /the issuer refused the login: access_denied/);
  });
  await t.test('right after a failed login a non-interactive caller gets "login required" fast, no new tab', async () => {
    const launches = await w.launches();
    const started = Date.now();
    const r = await getToken(w.tokenArgs, execInfo(false));
    assertClearFailure(r, 3, /login required/);
    assert.match(r.stderr, /kubectl oidc login/);
    assert.ok(Date.now() - started < 5_000, 'fast');
    assert.equal(await w.launches(), launches, 'no browser');
  });
  await t.test('nobody logs in: the login times out with a clear message', async () => {
    const log = join(w.dir, 'ignore.log');
    const ignoring = writeBrowserWrapper(w.dir, { mode: 'ignore', log }, 'ignoring-browser');
    const args = w.tokenArgs.filter((a) => !a.startsWith('--browser-command')).concat(`--browser-command=${ignoring}`, '--authentication-timeout-sec=3', '--oidc-extra-scope=profile');
    const r = await getToken(args);
    assertClearFailure(r, 1, /nobody completed the browser login within 3 s/);
    assert.equal((await readBrowserLog(log)).length, 1);
  });
  await t.test('through kubectl: the message reaches the user and kubectl fails', async () => {
    const kc = await w.kubeconfig('bad-kubeconfig', {}, [`--oidc-issuer-url=${await closedPortUrl()}`]);
    const r = await w.kubectl(['get', 'ns'], { kubeconfig: kc });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /kubectl-oidc: cannot reach https:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stderr, /getting credentials: exec: executable .* failed with exit code 1/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });
  await t.test('the agent survived all of it', async () => {
    const r = await w.plugin(['agent', 'status']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /agent: running/);
  });
});
