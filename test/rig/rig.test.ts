// Proves the rig on its own, without the product: a real browser login (auth code + PKCE)
// against the test issuer, tokens checked by the real kubectl against the test API server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { createTestCA, spkiHash } from './ca.js';
import type { TestCA } from './ca.js';
import { closedPortUrl, startGarbageIssuer, startIssuer } from './issuer.js';
import type { TestIssuer } from './issuer.js';
import { runKubectl, startApiServer, writeKubeconfig } from './apiserver.js';
import type { TestApiServer } from './apiserver.js';
import { browserCommand, readBrowserLog } from './browser.js';
import type { BrowserOptions } from './browser.js';

const SCOPE = 'openid email profile groups offline_access';

let dir: string;
let ca: TestCA;
let issuer: TestIssuer;
let api: TestApiServer;
let agent: Agent;
let config: oidc.Configuration;
let browserLog: string;
// Set by the login test, used by the later ones.
let idToken = '';
let refreshToken = '';

const customFetch = ((url: string, init: Record<string, unknown>) =>
  undiciFetch(url, { ...init, dispatcher: agent })) as unknown as oidc.CustomFetch;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rig-test-'));
  browserLog = join(dir, 'browser.log');
  ca = await createTestCA(dir);
  issuer = await startIssuer({ ca });
  api = await startApiServer({ issuerUrl: issuer.url, clientId: 'kubectl-oidc', issuerCaPem: ca.caPem, ca });
  agent = new Agent({ connect: { ca: ca.caPem } });
  config = await oidc.discovery(new URL(issuer.url), 'kubectl-oidc', undefined, oidc.None(), {
    [oidc.customFetch]: customFetch,
  });
});

after(async () => {
  await api?.close();
  await issuer?.close();
  await agent?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A one-shot loopback redirect target, like the product's. */
async function callbackServer() {
  let resolveHit: (url: URL) => void = () => {};
  const hit = new Promise<URL>((r) => (resolveHit = r));
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>You may close this tab.</body></html>');
    resolveHit(new URL(req.url ?? '/', redirectUri));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  return {
    redirectUri,
    hit,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Runs browser.js exactly as a --browser-command would be run. */
function runBrowser(url: string, opts: BrowserOptions) {
  const [cmd, ...args] = browserCommand({ log: browserLog, spki: issuer.spki, ...opts });
  const child = spawn(cmd!, [...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
}

async function authorizationUrl(redirectUri: string) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url, verifier, state };
}

async function whoami(token: string) {
  const kubeconfig = await writeKubeconfig({
    path: join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`),
    server: api.url,
    caPem: api.caPem,
    user: { token },
  });
  return runKubectl(['auth', 'whoami'], { kubeconfig, timeoutMs: 20_000 });
}

async function refreshError(token: string): Promise<string> {
  try {
    await oidc.refreshTokenGrant(config, token);
  } catch (e) {
    return (e as { error?: string }).error ?? String(e);
  }
  return 'no error';
}

test('CA: leaf certificates chain to their CA, cover loopback, and a second CA is unrelated', async () => {
  const leaf = new X509Certificate(ca.issue(['example.test']).certPem);
  assert.ok(leaf.verify(new X509Certificate(ca.caPem).publicKey));
  assert.ok(leaf.checkIP('127.0.0.1') && leaf.checkIP('::1') && leaf.checkHost('localhost'));
  assert.equal((await stat(ca.caFile)).mode & 0o777, 0o600);
  const other = await createTestCA(dir);
  assert.notEqual(other.caFile, ca.caFile);
  assert.ok(!leaf.verify(new X509Certificate(other.caPem).publicKey));
  assert.match(spkiHash(leaf.toString()), /^[A-Za-z0-9+/]{43}=$/);
});

test('browser login: auth code + PKCE through Chromium, ID token carries email and groups', async () => {
  issuer.resetStats();
  const cb = await callbackServer();
  try {
    const { url, verifier, state } = await authorizationUrl(cb.redirectUri);
    const browser = await runBrowser(url.href, { mode: 'login', login: 'alice' });
    assert.equal(browser.code, 0, browser.stderr);
    assert.equal(browser.stdout, '');
    const callback = await cb.hit;
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    const claims = tokens.claims()!;
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.email_verified, true);
    assert.deepEqual(claims.groups, ['developers', 'kubectl-oidc:users']);
    assert.equal(claims.aud, 'kubectl-oidc');
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token without prompt=consent');
    idToken = tokens.id_token!;
    refreshToken = tokens.refresh_token;
  } finally {
    cb.close();
  }
  assert.equal(issuer.stats.authorizations, 1);
  assert.equal(issuer.stats.tokenRequests.authorization_code, 1);
  assert.equal(issuer.stats.discovery, 0, 'discovery happened in before()');
  const launches = await readBrowserLog(browserLog);
  assert.equal(launches.length, 1);
  assert.equal(launches[0]!.mode, 'login');
  assert.doesNotMatch(JSON.stringify(launches), /code_challenge|state=/);
});

test('kubectl with a static token: whoami, get ns, get --raw', async () => {
  assert.ok(idToken, 'needs the login test');
  const who = await whoami(idToken);
  assert.equal(who.code, 0, who.stderr);
  assert.match(who.stdout, /alice@example\.com/);
  assert.match(who.stdout, /developers kubectl-oidc:users system:authenticated/);

  const kubeconfig = join(dir, 'kubeconfig-static');
  await writeKubeconfig({ path: kubeconfig, server: api.url, caPem: api.caPem, user: { token: idToken } });
  assert.equal((await stat(kubeconfig)).mode & 0o777, 0o600);
  const ns = await runKubectl(['get', 'ns'], { kubeconfig });
  assert.equal(ns.code, 0, ns.stderr);
  assert.match(ns.stdout, /^default\s+Active/m);
  const raw = await runKubectl(['get', '--raw', '/api/v1/namespaces'], { kubeconfig });
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(JSON.parse(raw.stdout).items[0].metadata.name, 'default');
  assert.ok(api.requests.some((r) => r.path === '/version' && r.user === 'alice@example.com'));
});

test('kubeconfig exec user: kubectl runs the plugin and passes the cluster extension config', async () => {
  const plugin = join(dir, 'fake-plugin.mjs');
  const infoFile = join(dir, 'exec-info.json');
  await writeFile(
    plugin,
    `import { writeFileSync } from 'node:fs';
const info = process.env.KUBERNETES_EXEC_INFO;
writeFileSync(process.env.RIG_EXEC_INFO_FILE, info);
process.stdout.write(JSON.stringify({ apiVersion: JSON.parse(info).apiVersion, kind: 'ExecCredential', status: { token: process.env.RIG_TOKEN } }));
`,
  );
  const extension = { issuer: issuer.url, clientId: 'kubectl-oidc' };
  const kubeconfig = await writeKubeconfig({
    path: join(dir, 'kubeconfig-exec'),
    server: api.url,
    caPem: api.caPem,
    user: {
      exec: {
        command: process.execPath,
        args: [plugin],
        env: [
          { name: 'RIG_TOKEN', value: await issuer.mintIdToken() },
          { name: 'RIG_EXEC_INFO_FILE', value: infoFile },
        ],
        provideClusterInfo: true,
      },
    },
    clusterExtensionConfig: extension,
  });
  const res = await runKubectl(['auth', 'whoami'], { kubeconfig });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /alice@example\.com/);
  const info = JSON.parse(await readFile(infoFile, 'utf8'));
  assert.equal(info.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(info.spec.interactive, false);
  assert.deepEqual(info.spec.cluster.config, extension);
});

test('refresh rotates the token; the old one is refused (invalid_grant), the new one still works', async () => {
  assert.ok(refreshToken, 'needs the login test');
  issuer.resetStats();
  const first = await oidc.refreshTokenGrant(config, refreshToken);
  assert.ok(first.refresh_token && first.refresh_token !== refreshToken);
  assert.ok(first.id_token);
  assert.equal(await refreshError(refreshToken), 'invalid_grant');
  const second = await oidc.refreshTokenGrant(config, first.refresh_token);
  assert.ok(second.refresh_token);
  refreshToken = second.refresh_token;
  assert.equal(issuer.stats.tokenRequests.refresh_token, 3);
  assert.equal(issuer.stats.refreshFailures, 1);
});

test('setOmitIdTokenOnRefresh strips id_token from refresh responses', async () => {
  issuer.setOmitIdTokenOnRefresh(true);
  try {
    const res = await oidc.refreshTokenGrant(config, refreshToken);
    assert.equal(res.id_token, undefined);
    assert.ok(res.access_token && res.refresh_token);
    refreshToken = res.refresh_token!;
  } finally {
    issuer.setOmitIdTokenOnRefresh(false);
  }
});

test('setIdTokenTtl(2); the API server refuses expired, foreign and unverified tokens with 401', async () => {
  issuer.setIdTokenTtl(2);
  let shortLived: string;
  try {
    const res = await oidc.refreshTokenGrant(config, refreshToken);
    refreshToken = res.refresh_token!;
    const claims = res.claims()!;
    assert.equal(claims.exp - claims.iat, 2);
    shortLived = res.id_token!;
  } finally {
    issuer.setIdTokenTtl(3600);
  }

  const other = await startIssuer({ ca });
  try {
    const rejected = {
      'other audience': await issuer.mintIdToken({ aud: 'someone-else' }),
      'other issuer key': await other.mintIdToken({ iss: issuer.url }),
      'email not verified': await issuer.mintIdToken({ email_verified: false }),
      'already expired': await issuer.mintIdToken({}, { ttl: -10 }),
      'not a JWT': 'garbage',
    };
    for (const [why, token] of Object.entries(rejected)) {
      api.resetRequests();
      const res = await whoami(token);
      assert.equal(res.code, 1, why);
      assert.match(res.stderr, /Unauthorized/, why);
      assert.ok(api.unauthorized >= 1, why);
      assert.ok(api.requests.every((r) => r.status === 401 && r.user === undefined), why);
    }
  } finally {
    await other.close();
  }

  // The real short-lived token: accepted now, refused once its 2 s are over.
  const claims = JSON.parse(Buffer.from(shortLived.split('.')[1]!, 'base64url').toString()) as { exp: number };
  const wait = claims.exp * 1000 - Date.now() + 1100;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  api.resetRequests();
  const expired = await whoami(shortLived);
  assert.equal(expired.code, 1);
  assert.match(api.lastRejection ?? '', /exp/);
});

test('revokeAll makes every refresh token invalid', async () => {
  issuer.resetStats();
  issuer.revokeAll();
  assert.equal(await refreshError(refreshToken), 'invalid_grant');
  assert.equal(issuer.stats.refreshFailures, 1);
});

test('browser deny mode sends error=access_denied to the callback; ignore mode only logs', async () => {
  const cb = await callbackServer();
  try {
    const { url } = await authorizationUrl(cb.redirectUri);
    const denied = await runBrowser(url.href, { mode: 'deny' });
    assert.equal(denied.code, 0, denied.stderr);
    const callback = await cb.hit;
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assert.equal(callback.searchParams.get('code'), null);

    const before = (await readBrowserLog(browserLog)).length;
    const ignored = await runBrowser(url.href, { mode: 'ignore' });
    assert.equal(ignored.code, 0);
    const launches = await readBrowserLog(browserLog);
    assert.equal(launches.length, before + 1);
    assert.equal(launches.at(-1)!.mode, 'ignore');
  } finally {
    cb.close();
  }
});

test('device flow: browser.js confirms the user code and signs in', async () => {
  const device = await oidc.initiateDeviceAuthorization(config, { scope: SCOPE });
  assert.ok(device.verification_uri_complete);
  const browser = await runBrowser(device.verification_uri_complete, { mode: 'login', login: 'bob@corp.test' });
  assert.equal(browser.code, 0, browser.stderr);
  // Approved already: one poll, no waiting for the interval.
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...device, interval: 0 });
  assert.equal(tokens.claims()!.email, 'bob@corp.test');
  assert.ok(tokens.refresh_token);
  assert.equal(issuer.stats.tokenRequests.device_code, 1);
});

test('unusable issuers: garbage discovery documents and a closed port', async () => {
  for (const kind of ['html', 'bad-json', 'wrong-issuer', 'error-500'] as const) {
    const garbage = await startGarbageIssuer(ca, kind);
    try {
      await assert.rejects(
        oidc.discovery(new URL(garbage.url), 'kubectl-oidc', undefined, oidc.None(), { [oidc.customFetch]: customFetch }),
        kind,
      );
      assert.equal(garbage.requests, 1);
    } finally {
      await garbage.close();
    }
  }
  const closed = await closedPortUrl();
  await assert.rejects(undiciFetch(`${closed}/.well-known/openid-configuration`, { dispatcher: agent }), /fetch failed/);
});
