// Proves the rig on its own, without the product: a real browser login (auth code + PKCE)
// against the test issuer, tokens checked by the real kubectl against the test API server.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { Agent, ProxyAgent, fetch as undiciFetch } from 'undici';
import { createTestCA, spkiHash } from './ca.js';
import type { TestCA } from './ca.js';
import {
  CLIENT_SECRET,
  OOB_REDIRECT_URI,
  PASSWORD_FOR_TESTS,
  PUBLIC_CLIENT_ID,
  SECRET_CLIENT_ID,
  closedPortUrl,
  startGarbageIssuer,
  startIssuer,
} from './issuer.js';
import type { FaultEndpoint, TestIssuer } from './issuer.js';
import { startProxy } from './proxy.js';
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

// A failed fault test must not leave its fault on for the next test.
afterEach(() => {
  for (const endpoint of ['discovery', 'jwks', 'token', 'revocation', 'device'] as FaultEndpoint[]) {
    issuer?.setFault(endpoint, undefined);
  }
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

// ---- fault and variation knobs, driven with plain HTTP so every status and byte is visible ----

interface Answer {
  status: number;
  type: string | null;
  text: string;
}

async function call(path: string, init: { form?: Record<string, string>; basic?: [string, string] } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
  if (init.basic) headers.authorization = `Basic ${Buffer.from(init.basic.join(':')).toString('base64')}`;
  const res = await undiciFetch(`${issuer.url}${path}`, {
    method: init.form ? 'POST' : 'GET',
    headers,
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    dispatcher: agent,
  });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const json = (a: Answer) => JSON.parse(a.text) as Record<string, string>;

async function passwordGrant(opts: { username?: string; password?: string; scope?: string; secret?: boolean } = {}) {
  const form: Record<string, string> = {
    grant_type: 'password',
    username: opts.username ?? 'alice',
    password: opts.password ?? PASSWORD_FOR_TESTS,
    scope: opts.scope ?? SCOPE,
  };
  if (!opts.secret) form.client_id = PUBLIC_CLIENT_ID;
  return call('/token', { form, ...(opts.secret ? { basic: [SECRET_CLIENT_ID, CLIENT_SECRET] } : {}) });
}

async function freshRefreshToken(): Promise<string> {
  const res = await passwordGrant();
  assert.equal(res.status, 200, res.text);
  return json(res).refresh_token!;
}

const refresh = (token: string) =>
  call('/token', { form: { grant_type: 'refresh_token', refresh_token: token, client_id: PUBLIC_CLIENT_ID } });

/** Verifies like a relying party: signature against the JWKS the issuer serves now, iss, aud, exp. */
async function verifyIdToken(token: string) {
  const jwks = createLocalJWKSet(json(await call('/keys')) as unknown as JSONWebKeySet);
  const { payload } = await jwtVerify(token, jwks, { issuer: issuer.url, audience: PUBLIC_CLIENT_ID });
  return payload;
}

test('password grant: any login with PASSWORD_FOR_TESTS, both clients; a wrong password is invalid_grant', async () => {
  issuer.resetStats();
  const ok = await passwordGrant();
  assert.equal(ok.status, 200, ok.text);
  const tokens = json(ok);
  const claims = await verifyIdToken(tokens.id_token!);
  assert.equal(claims.sub, 'alice');
  assert.equal(claims.email, 'alice@example.com');
  assert.deepEqual(claims.groups, ['developers', 'kubectl-oidc:users']);
  assert.ok(tokens.refresh_token && tokens.access_token);

  const again = await refresh(tokens.refresh_token!);
  assert.equal(again.status, 200, again.text);
  assert.equal((await verifyIdToken(json(again).id_token!)).sub, 'alice');

  const secret = await passwordGrant({ username: 'carol@corp.test', secret: true });
  assert.equal(secret.status, 200, secret.text);
  assert.equal(JSON.parse(Buffer.from(json(secret).id_token!.split('.')[1]!, 'base64url').toString()).aud, SECRET_CLIENT_ID);

  const online = await passwordGrant({ scope: 'openid email' });
  assert.equal(online.status, 200);
  assert.equal(json(online).refresh_token, undefined, 'no offline_access, no refresh token');

  const wrong = await passwordGrant({ password: 'password' });
  assert.equal(wrong.status, 400);
  assert.equal(json(wrong).error, 'invalid_grant');
  assert.equal(issuer.stats.tokenRequests.password, 4);
  assert.equal(issuer.stats.tokenRequests.refresh_token, 1);
});

test('setFault: status, garbage, truncated and delayed answers from discovery, jwks and device; times', async () => {
  issuer.resetStats();
  const discovery = '/.well-known/openid-configuration';
  issuer.setFault('discovery', { status: 503, times: 1 });
  const unavailable = await call(discovery);
  assert.deepEqual(unavailable, { status: 503, type: null, text: '' });
  const real = await call(discovery);
  assert.equal(real.status, 200);
  assert.equal(json(real).issuer, issuer.url, 'times: 1 faults one request only');

  issuer.setFault('discovery', { body: 'garbage' });
  for (let i = 0; i < 2; i++) assert.deepEqual(await call(discovery), { status: 200, type: 'application/json', text: 'garbage' });
  issuer.setFault('discovery', undefined);
  assert.equal((await call(discovery)).status, 200);

  issuer.setFault('jwks', { truncate: true, times: 1 });
  const cut = await call('/keys');
  const whole = await call('/keys');
  assert.equal(cut.status, 200);
  assert.match(cut.type ?? '', /application\/json/);
  assert.equal(cut.text, whole.text.slice(0, Math.floor(whole.text.length / 2)));
  assert.throws(() => JSON.parse(cut.text));

  issuer.setFault('discovery', { delayMs: 400, times: 1 });
  const started = Date.now();
  const slow = await call(discovery);
  assert.ok(Date.now() - started >= 400, 'delayed');
  assert.equal(json(slow).issuer, issuer.url, 'delayMs alone gives the real answer');

  issuer.setFault('device', { status: 500, body: '{"error":"server_error"}', times: 1 });
  const deviceForm = { form: { client_id: PUBLIC_CLIENT_ID, scope: SCOPE } };
  const failed = await call('/device/code', deviceForm);
  assert.equal(failed.status, 500);
  assert.equal(json(failed).error, 'server_error');
  const device = await call('/device/code', deviceForm);
  assert.equal(device.status, 200);
  assert.ok(json(device).device_code);

  assert.deepEqual(issuer.stats.faulted, { discovery: 4, jwks: 1, token: 0, revocation: 0, device: 1 });
  assert.equal(issuer.stats.discovery, 6, 'faulted requests count too');
  assert.equal(issuer.stats.jwks, 2);
});

test('setFault token: a fault before the grant leaves the refresh token unspent; afterGrant and truncate spend it', async () => {
  issuer.resetStats();
  const token = await freshRefreshToken();

  issuer.setFault('token', { status: 503, times: 1 });
  assert.deepEqual(await refresh(token), { status: 503, type: null, text: '' });
  const rotated = await refresh(token);
  assert.equal(rotated.status, 200, 'the issuer never saw the faulted request');
  const next = json(rotated).refresh_token!;

  issuer.setFault('token', { status: 502, body: '<html>Bad Gateway</html>', contentType: 'text/html', afterGrant: true, times: 1 });
  const lost = await refresh(next);
  assert.equal(lost.status, 502);
  assert.equal(lost.text, '<html>Bad Gateway</html>');
  assert.match(lost.type ?? '', /^text\/html/);
  const spent = await refresh(next);
  assert.equal(spent.status, 400, 'the lost answer carried the only valid refresh token');
  assert.equal(json(spent).error, 'invalid_grant');

  const another = await freshRefreshToken();
  issuer.setFault('token', { truncate: true, times: 1 });
  const cut = await refresh(another);
  assert.equal(cut.status, 200);
  assert.throws(() => JSON.parse(cut.text));
  assert.match(cut.text, /^\{"access_token":/);
  assert.equal((await refresh(another)).status, 400, 'a truncated answer was a real refresh');

  assert.equal(issuer.stats.faulted.token, 3);
  assert.equal(issuer.stats.tokenRequests.refresh_token, 6);
  assert.equal(issuer.stats.refreshFailures, 2);
});

test('setRefreshRefusalStyle: a refused refresh answers as oauth JSON, empty 400, empty 401 or an HTML 400', async () => {
  const token = await freshRefreshToken();
  assert.equal((await refresh(token)).status, 200);
  issuer.resetStats();
  const expected = {
    oauth: (a: Answer) => assert.equal(a.status === 400 && json(a).error, 'invalid_grant'),
    'empty-400': (a: Answer) => assert.deepEqual(a, { status: 400, type: null, text: '' }),
    'empty-401': (a: Answer) => assert.deepEqual(a, { status: 401, type: null, text: '' }),
    'html-400': (a: Answer) => {
      assert.equal(a.status, 400);
      assert.match(a.type ?? '', /^text\/html/);
      assert.match(a.text, /<h1>400 Bad Request<\/h1>/);
    },
  };
  try {
    for (const [style, check] of Object.entries(expected)) {
      issuer.setRefreshRefusalStyle(style as keyof typeof expected);
      check(await refresh(token));
    }
    // Only refusals change: a good refresh token still works, a refused password stays oauth.
    const good = await refresh(await freshRefreshToken());
    assert.equal(good.status, 200);
    assert.equal(json(await passwordGrant({ password: 'nope' })).error, 'invalid_grant');
  } finally {
    issuer.setRefreshRefusalStyle('oauth');
  }
  assert.equal(issuer.stats.refreshFailures, 4);
});

test('setRefreshSubject: refresh answers carry a valid ID token for another sub; logins keep the real one', async () => {
  const token = await freshRefreshToken();
  issuer.setRefreshSubject('mallory');
  try {
    const res = await refresh(token);
    assert.equal(res.status, 200);
    const claims = await verifyIdToken(json(res).id_token!);
    assert.equal(claims.sub, 'mallory');
    assert.equal(claims.email, 'alice@example.com');
    assert.ok(claims.exp! > Date.now() / 1000);
    assert.equal((await verifyIdToken(json(await passwordGrant()).id_token!)).sub, 'alice');
    issuer.setRefreshSubject(undefined);
    const back = await refresh(json(res).refresh_token!);
    assert.equal((await verifyIdToken(json(back).id_token!)).sub, 'alice');
  } finally {
    issuer.setRefreshSubject(undefined);
  }
});

test('stats.revocations: hint, client and authentication of each request; a faulted one revokes nothing', async () => {
  const publicToken = await freshRefreshToken();
  const secretToken = json(await passwordGrant({ secret: true })).refresh_token!;
  const kept = await freshRefreshToken();
  issuer.resetStats();

  const revoked = await call('/token/revocation', {
    form: { token: publicToken, token_type_hint: 'refresh_token', client_id: PUBLIC_CLIENT_ID },
  });
  assert.equal(revoked.status, 200);
  assert.equal(revoked.text, '');
  assert.equal(json(await refresh(publicToken)).error, 'invalid_grant', 'really revoked');

  const bySecret = await call('/token/revocation', { form: { token: secretToken }, basic: [SECRET_CLIENT_ID, CLIENT_SECRET] });
  assert.equal(bySecret.status, 200);

  issuer.setFault('revocation', { status: 401, body: '{"error":"invalid_client"}', times: 1 });
  const refused = await call('/token/revocation', { form: { token: kept, client_id: PUBLIC_CLIENT_ID } });
  assert.equal(refused.status, 401);
  assert.equal((await refresh(kept)).status, 200, 'the faulted revocation never reached the issuer');

  assert.deepEqual(issuer.stats.revocations, [
    { tokenTypeHint: 'refresh_token', clientId: PUBLIC_CLIENT_ID, authenticated: false, status: 200 },
    { clientId: SECRET_CLIENT_ID, authenticated: true, status: 200 },
    { clientId: PUBLIC_CLIENT_ID, authenticated: false, status: 401 },
  ]);
  assert.equal(issuer.stats.faulted.revocation, 1);
});

test('out-of-band code: the issuer shows the code, browser.js --mode oob writes it, the token endpoint takes it', async () => {
  const { url, verifier } = await authorizationUrl(OOB_REDIRECT_URI);
  const codeFile = join(dir, 'oob-code');
  const browser = await runBrowser(url.href, { mode: 'oob', oobCodeFile: codeFile });
  assert.equal(browser.code, 0, browser.stderr);
  assert.equal(browser.stdout, '');
  const code = await readFile(codeFile, 'utf8');
  assert.match(code, /^[\w-]{20,}$/);
  const exchange = (redirect_uri: string) =>
    call('/token', {
      form: { grant_type: 'authorization_code', code, redirect_uri, code_verifier: verifier, client_id: PUBLIC_CLIENT_ID },
    });
  const mismatch = await exchange('http://127.0.0.1:8000');
  assert.equal(json(mismatch).error, 'invalid_grant');
  const res = await exchange(OOB_REDIRECT_URI);
  assert.equal(res.status, 200, res.text);
  assert.equal((await verifyIdToken(json(res).id_token!)).email, 'alice@example.com');
  assert.ok(json(res).refresh_token);
  assert.equal((await readBrowserLog(browserLog)).at(-1)!.mode, 'oob');
});

test('rotateSigningKey: new kid signs new ID tokens, /keys serves it (and the old one with keepOld); mintIdToken key and kid', async () => {
  const kids = async () => (json(await call('/keys')) as unknown as JSONWebKeySet).keys.map((k) => k.kid);
  const [kid0] = await kids();
  await assert.rejects(issuer.mintIdToken({}, { key: 'old' }), /no 'old' key/);

  const kid1 = issuer.rotateSigningKey({ keepOld: true });
  assert.deepEqual(await kids(), [kid1, kid0]);
  const fresh = json(await passwordGrant()).id_token!;
  assert.equal(decodeProtectedHeader(fresh).kid, kid1);
  await verifyIdToken(fresh);
  await verifyIdToken(await issuer.mintIdToken({}, { key: 'old' }));
  const who = await whoami(fresh);
  assert.equal(who.code, 0, who.stderr);

  const kid2 = issuer.rotateSigningKey();
  assert.deepEqual(await kids(), [kid2]);
  const refreshed = json(await refresh(await freshRefreshToken())).id_token!;
  assert.equal(decodeProtectedHeader(refreshed).kid, kid2);
  await verifyIdToken(refreshed);
  const rotated = await whoami(refreshed);
  assert.equal(rotated.code, 0, `the API server fetches the rig's /keys for a new kid: ${rotated.stderr}`);
  await assert.rejects(verifyIdToken(await issuer.mintIdToken({}, { key: 'old' })), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  await assert.rejects(verifyIdToken(await issuer.mintIdToken({}, { key: 'foreign' })), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  await assert.rejects(verifyIdToken(await issuer.mintIdToken({}, { key: 'foreign', kid: kid2 })), {
    code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  });
  const noKid = await issuer.mintIdToken({}, { kid: false });
  assert.equal(decodeProtectedHeader(noKid).kid, undefined);
  await verifyIdToken(noKid);
  const foreign = await whoami(await issuer.mintIdToken({}, { key: 'foreign' }));
  assert.equal(foreign.code, 1, 'a key that /keys never served');
});

test('startProxy: tinyproxy tunnels HTTPS to the issuer and logs each CONNECT', async (t) => {
  const proxy = await startProxy();
  if ('skip' in proxy) return t.skip(proxy.skip);
  const via = new ProxyAgent({ uri: proxy.url, requestTls: { ca: ca.caPem } });
  try {
    assert.deepEqual(proxy.connects, []);
    const res = await undiciFetch(`${issuer.url}/.well-known/openid-configuration`, { dispatcher: via });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { issuer: string }).issuer, issuer.url);
    assert.deepEqual(proxy.connects, [`127.0.0.1:${issuer.port}`]);
  } finally {
    await via.close();
    await proxy.close();
  }
  const gone = new ProxyAgent({ uri: proxy.url, requestTls: { ca: ca.caPem } });
  await assert.rejects(undiciFetch(`${issuer.url}/keys`, { dispatcher: gone }), /fetch failed/);
  await gone.close();
});
