/**
 * Issue 9, "Log in from anywhere", end to end: the plugin (and the agent it starts), the HTTPS issuer,
 * real kubectl and Chromium. Device code, the keyboard flow under a real pseudo-terminal, the password
 * grant, per-cluster settings (provideClusterInfo), a real forward proxy, and kubelogin's flag set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { assertClearFailure, createWorld, requireTools, execInfo, PLUGIN_ARGV, ENTRY, type World } from './world.js';
import { browserCommand, readBrowserLog } from '../rig/browser.js';
import { spkiHash } from '../rig/ca.js';
import { PASSWORD_FOR_TESTS, PUBLIC_CLIENT_ID } from '../rig/issuer.js';
import { startApiServer, type KubectlResult } from '../rig/apiserver.js';
import { startProxy } from '../rig/proxy.js';

const skip = requireTools();

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
const tokenOf = (r: KubectlResult) => JSON.parse(r.stdout).status.token as string;
/** The world's flags without the ones a test replaces. */
const without = (w: World, ...prefixes: string[]) => w.tokenArgs.filter((a) => !prefixes.some((p) => a.startsWith(p)));


interface Live {
  child: ChildProcess;
  /** Resolves with the first match of `re` in what the process wrote so far (stdout+stderr for a pty). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  done: Promise<KubectlResult>;
}

/** A process the test talks to while it runs. `detached`: its own session, so no controlling terminal (/dev/tty fails). */
function live(file: string, args: string[], env: Record<string, string | undefined>, opts: { timeoutMs?: number } = {}): Live {
  const child = spawn(file, args, { env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 90_000);
  const done = new Promise<KubectlResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    }),
  );
  return {
    child,
    done,
    async waitFor(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(stderr) ?? re.exec(stdout);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`never printed ${re}; stdout: ${stdout}\nstderr: ${stderr}`);
        await sleep(50);
      }
    },
  };
}

/** The plugin, run the way kubectl runs it, but with the test able to read its stderr as it goes. Stdin is an open pipe nobody writes to. */
function livePlugin(w: World, args: string[], env: Record<string, string | undefined>): Live {
  return live(PLUGIN_ARGV[0]!, [...PLUGIN_ARGV.slice(1), ...args], { ...process.env, ...w.env, ...env });
}

/** Play the person at a browser (Chromium, through the rig's script) at `url`; resolves when the script is done. */
async function playBrowser(w: World, url: string, mode: 'login' | 'oob' = 'login', extra: { oobCodeFile?: string } = {}): Promise<void> {
  const [file, ...args] = browserCommand({ log: w.browserLog, mode, spki: w.issuer.spki, login: 'alice', ...extra });
  const r = await live(file!, [...args, url], process.env).done;
  assert.equal(r.code, 0, `the rig browser failed: ${r.stderr}`);
}

test('device code: the URL is printed before polling, the person approves it in a browser elsewhere', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());

  await t.test('--grant-type=device-code --skip-open-browser: no authorization code grant, one device code grant', async () => {
    const p = livePlugin(w, ['get-token', ...without(w, '--browser-command'), '--grant-type=device-code', '--skip-open-browser'], execInfo(false));
    const m = await p.waitFor(/(https:\/\/\S+\/device\S*)/);
    assert.match(m[1]!, /user_code=/, 'verification_uri_complete, which carries the code');
    assert.equal(w.issuer.stats.tokenRequests.device_code, 0, 'printed before polling starts');
    await playBrowser(w, m[1]!);
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(claimsOf(tokenOf(r)).sub, 'alice');
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 0);
    assert.ok(w.issuer.stats.tokenRequests.device_code >= 1, 'polled the token endpoint');
    const launches = await readBrowserLog(w.browserLog);
    assert.equal(launches.length, 1, 'only the browser the test played; the plugin opened none');
  });

  // A caller nobody watches (spec.interactive false) gets "login required" instead: test/e2e/grants.test.ts.
  await t.test('auto, a person at a terminal with no browser command and no DISPLAY/BROWSER: device code, and it says why', async () => {
    await w.plugin(['logout', ...w.tokenArgs]);
    const before = { ...w.issuer.stats.tokenRequests };
    const p = livePlugin(w, ['get-token', ...without(w, '--browser-command')], { ...execInfo(true), DISPLAY: undefined, WAYLAND_DISPLAY: undefined, BROWSER: undefined });
    const m = await p.waitFor(/(https:\/\/\S+\/device\S*)/);
    await playBrowser(w, m[1]!);
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /logging in with the device-code flow: no browser can open here \(no DISPLAY, no BROWSER\)/);
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, before.authorization_code);
    assert.ok(w.issuer.stats.tokenRequests.device_code > before.device_code);
  });
});

test('password grant: --username and KUBECTL_OIDC_PASSWORD, for CI', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const args = ['get-token', ...w.tokenArgs, '--username=alice'];

  await t.test('a wrong password: one clear line, exit 1', async () => {
    const r = await w.plugin(args, { env: { ...execInfo(false), KUBECTL_OIDC_PASSWORD: 'not-the-password' } });
    assertClearFailure(r, 1, /invalid username or password|invalid_grant/);
  });

  await t.test('no password and no terminal: login required, exit 3', async () => {
    const p = livePlugin(w, args, { ...execInfo(false), KUBECTL_OIDC_PASSWORD: undefined });
    const r = await p.done;
    assertClearFailure(r, 3, /login required/);
  });

  await t.test('the right password: a token, one password grant, no browser', async () => {
    const r = await w.plugin(args, { env: { ...execInfo(false), KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(claimsOf(tokenOf(r)).sub, 'alice');
    assert.equal(w.issuer.stats.tokenRequests.password, 2, 'the wrong one, then this one');
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 0);
    assert.equal(await w.launches(), 0);
  });
});

/** Single-quote for sh. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

test('authcode-keyboard under a pseudo-terminal: the code is typed at /dev/tty, stdin is never read', { skip, timeout: 180_000 }, async (t) => {
  if (!existsSync('/usr/bin/script')) return t.skip('no /usr/bin/script (util-linux/bsdutils)');
  const w = await createWorld();
  t.after(() => w.close());
  const codeFile = join(w.dir, 'oob-code');

  /** `script` gives the command a new pty as its controlling terminal and its stdin; we type into script's stdin. */
  const underPty = (cmd: string) => live('/usr/bin/script', ['-qfc', cmd, '/dev/null'], { ...process.env, ...w.env });
  async function typeCode(p: Live) {
    const m = await p.waitFor(/(https:\/\/\S+\/auth\?\S+)/);
    assert.match(m[1]!, /redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2\.0%3Aoob/);
    await p.waitFor(/Enter code: /);
    await playBrowser(w, m[1]!, 'oob', { oobCodeFile: codeFile });
    p.child.stdin!.write(`${readFileSync(codeFile, 'utf8')}\r`);
  }

  await t.test('real kubectl, its stdin the pty: the plugin prompts on the terminal and the login succeeds', async () => {
    const kubeconfig = await w.kubeconfig('kubeconfig-keyboard', { interactiveMode: 'IfAvailable' }, ['--grant-type=authcode-keyboard']);
    const p = underPty(`exec /usr/bin/kubectl --kubeconfig ${q(kubeconfig)} auth whoami`);
    await typeCode(p);
    const r = await p.done;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 1);
  });

  await t.test('stdin holds a decoy code: the plugin still reads the terminal', async () => {
    await w.plugin(['logout', ...w.tokenArgs]);
    const decoy = join(w.dir, 'decoy');
    writeFileSync(decoy, 'decoy-code-from-stdin\n');
    const info = execInfo(true).KUBERNETES_EXEC_INFO.trim();
    const cmd = `KUBERNETES_EXEC_INFO=${q(info)} exec ${PLUGIN_ARGV.map(q).join(' ')} get-token ${[...w.tokenArgs, '--grant-type=authcode-keyboard'].map(q).join(' ')} < ${q(decoy)}`;
    const p = underPty(cmd);
    await typeCode(p);
    const r = await p.done;
    assert.equal(r.code, 0, r.stdout);
    const token = /"token":"([^"]+)"/.exec(r.stdout)?.[1];
    assert.ok(token, `an ExecCredential on stdout: ${r.stdout}`);
    assert.equal(claimsOf(token).sub, 'alice');
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 2, 'the typed code, not the decoy, was exchanged');
    // The pty carries stderr too: no runtime stack trace, no error after the answer (Bun's EBADF on close).
    assert.doesNotMatch(r.stdout, /internal error|EBADF|\n\s+at |Bun v\d/, r.stdout);
  });
});

test('provideClusterInfo: one user entry, two clusters with their issuer settings in the exec extension, one login', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const api2 = await startApiServer({ issuerUrl: w.issuer.url, clientId: PUBLIC_CLIENT_ID, issuerCaPem: w.ca.caPem, ca: w.ca });
  t.after(() => api2.close());
  const extension = {
    'oidc-issuer-url': w.issuer.url,
    'oidc-client-id': PUBLIC_CLIENT_ID,
    'oidc-extra-scope': ['email', 'groups'],
    'certificate-authority-data': Buffer.from(w.ca.caPem).toString('base64'),
  };
  const cluster = (server: string, caPem: string, ext: boolean) => ({
    server,
    'certificate-authority-data': Buffer.from(caPem).toString('base64'),
    ...(ext ? { extensions: [{ name: 'client.authentication.k8s.io/exec', extension }] } : {}),
  });
  // Only UI and cache flags in the user entry: the issuer settings come from each cluster.
  const uiArgs = w.tokenArgs.filter((a) => /^--(browser-command|listen-address|token-cache-storage)=/.test(a));
  const kubeconfig = join(w.dir, 'kubeconfig-clusters');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'one', cluster: cluster(w.api.url, w.api.caPem, true) },
        { name: 'two', cluster: cluster(api2.url, api2.caPem, true) },
        { name: 'bare', cluster: cluster(w.api.url, w.api.caPem, false) },
      ],
      users: [
        {
          name: 'oidc',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: join(w.binDir, 'kubectl-oidc'),
              args: ['get-token', ...uiArgs],
              interactiveMode: 'IfAvailable',
              provideClusterInfo: true,
            },
          },
        },
      ],
      contexts: ['one', 'two', 'bare'].map((name) => ({ name, context: { cluster: name, user: 'oidc' } })),
      'current-context': 'one',
    }),
    { mode: 0o600 },
  );

  await t.test('both clusters answer whoami for alice after one browser login', async () => {
    const r1 = await w.kubectl(['--context', 'one', 'auth', 'whoami'], { kubeconfig });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /alice@example\.com/);
    const r2 = await w.kubectl(['--context', 'two', 'auth', 'whoami'], { kubeconfig });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 1, 'one session shared by both clusters');
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 1);
    assert.ok(api2.requests.some((x) => x.user === 'alice@example.com'), 'the second API server saw the token');
  });

  await t.test('a cluster without the extension: a clear error naming the extension', async () => {
    const r = await w.kubectl(['--context', 'bare', 'auth', 'whoami'], { kubeconfig });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /missing --oidc-issuer-url/);
    assert.match(r.stderr, /client\.authentication\.k8s\.io\/exec/);
    assert.equal(await w.launches(), 1);
  });

  await t.test('flags in the user entry override the extension', async () => {
    const stale = { ...extension, 'oidc-issuer-url': 'https://issuer.invalid/dex' };
    const r = await w.plugin(['get-token', ...uiArgs, `--oidc-issuer-url=${w.issuer.url}`], { env: execInfo(false, { server: w.api.url, config: stale }) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(claimsOf(tokenOf(r)).iss, w.issuer.url);
    assert.equal(await w.launches(), 1, 'the same session as the clusters above');
  });
});

test('through a real forward proxy (tinyproxy): HTTPS_PROXY set and NO_PROXY unset, and not when NO_PROXY covers the issuer', { skip, timeout: 120_000 }, async (t) => {
  const proxy = await startProxy();
  if ('skip' in proxy) return t.skip(proxy.skip);
  t.after(() => proxy.close());
  const w = await createWorld();
  t.after(() => w.close());
  const issuerHostPort = new URL(w.issuer.url).host;
  // The password grant: no browser, so every request to the issuer is the agent's.
  const args = ['get-token', ...w.tokenArgs, '--username=alice'];
  const noProxyVars = { NO_PROXY: undefined, no_proxy: undefined, HTTP_PROXY: undefined, http_proxy: undefined, https_proxy: undefined };

  await t.test('HTTPS_PROXY set, NO_PROXY unset: the login tunnels through the proxy', async () => {
    const r = await w.plugin(args, { env: { ...execInfo(false), ...noProxyVars, HTTPS_PROXY: proxy.url, KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(proxy.connects.includes(issuerHostPort), `CONNECT ${issuerHostPort} in ${JSON.stringify(proxy.connects)}`);
  });

  await t.test('NO_PROXY covers the issuer: a new login goes direct', async () => {
    // --username is part of the session: logout names the same account.
    await w.plugin(['logout', ...w.tokenArgs, '--username=alice'], { env: { ...noProxyVars, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } });
    const seen = proxy.connects.length;
    const before = w.issuer.stats.tokenRequests.password;
    const r = await w.plugin(args, { env: { ...execInfo(false), ...noProxyVars, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1', KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(w.issuer.stats.tokenRequests.password, before + 1, 'a new login happened');
    assert.equal(proxy.connects.length, seen, `no CONNECT: ${JSON.stringify(proxy.connects.slice(seen))}`);
  });
});

test("kubelogin's documented get-token flags, through real kubectl", { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const local = w.ca.issue(['127.0.0.1']);
  const certFile = join(w.dir, 'local-server.crt');
  const keyFile = join(w.dir, 'local-server.key');
  writeFileSync(certFile, local.certPem);
  writeFileSync(keyFile, local.keyPem, { mode: 0o600 });
  // Chromium must accept the HTTPS callback's certificate as well as the issuer's.
  const browser = join(w.dir, 'kubelogin-browser');
  const [file, ...bargs] = browserCommand({ log: w.browserLog, mode: 'login', spki: [w.issuer.spki, spkiHash(local.certPem)], login: 'alice' });
  writeFileSync(browser, `#!/bin/sh\nexec ${[file!, ...bargs].map(q).join(' ')} "$@"\n`, { mode: 0o755 });
  const kubelogin = [
    `--oidc-issuer-url=${w.issuer.url}`,
    `--oidc-client-id=${PUBLIC_CLIENT_ID}`,
    `--certificate-authority=${w.ca.caFile}`,
    '--oidc-extra-scope=email,groups',
    '-v1',
    '--oidc-pkce-method=S256',
    '--grant-type=authcode',
    '--oidc-auth-request-extra-params=ui_locales=en',
    '--oidc-redirect-url-hostname=127.0.0.1',
    `--local-server-cert=${certFile}`,
    `--local-server-key=${keyFile}`,
    '--token-cache-storage=disk',
    '--listen-address=127.0.0.1:0',
    `--browser-command=${browser}`,
    '--authentication-timeout-sec=60',
    '--skip-open-browser=false',
    '--force-refresh=false',
    '--logtostderr',
  ];

  await t.test('the whole set: kubectl auth whoami works, no "unknown flag", the callback was served over HTTPS', async () => {
    const kubeconfig = await w.kubeconfig('kubeconfig-kubelogin', { args: ['get-token', ...kubelogin] });
    const r = await w.kubectl(['auth', 'whoami'], { kubeconfig });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /unknown flag/);
    assert.match(r.stdout, /alice@example\.com/);
    const launches = await readBrowserLog(w.browserLog);
    assert.equal(launches.length, 1);
    // The browser starts on a private page holding the one-time link (on the HTTPS callback server).
    assert.match(launches[0]!.target, /^file:\/\/\/.+\/login\.html$/, 'a private page, not the link itself');
  });

  await t.test('--oidc-use-access-token: the credential carries the access token (the userinfo endpoint accepts it)', async () => {
    const r = await w.plugin(['get-token', ...kubelogin, '--oidc-use-access-token'], { env: execInfo(false) });
    assert.equal(r.code, 0, r.stderr);
    const token = tokenOf(r);
    const idToken = tokenOf(await w.plugin(['get-token', ...kubelogin], { env: execInfo(false) }));
    assert.notEqual(token, idToken);
    const dispatcher = new Agent({ connect: { ca: w.ca.caPem } });
    const userinfo = await undiciFetch(`${w.issuer.url}/userinfo`, { headers: { authorization: `Bearer ${token}` }, dispatcher });
    assert.equal(userinfo.status, 200, await userinfo.clone().text());
    assert.equal(((await userinfo.json()) as { sub: string }).sub, 'alice');
    await dispatcher.close();
  });

  await t.test('--insecure-skip-tls-verify: works without the CA, with a loud warning on stderr', async () => {
    const args = ['get-token', ...kubelogin.filter((a) => !a.startsWith('--certificate-authority')), '--insecure-skip-tls-verify'];
    const r = await w.plugin(args, { env: execInfo(true) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARNING: --insecure-skip-tls-verify is set/);
  });
});

test('switching from kubelogin keeps you logged in: its cache file becomes our session, with no browser', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // A real refresh token from the issuer, through a first login kept in a separate cache dir.
  const elsewhere = join(w.dir, 'first-login');
  const first = await w.plugin(['get-token', ...w.tokenArgs, `--token-cache-dir=${elsewhere}`], { env: execInfo(true) });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(await w.launches(), 1);
  const ours = readdirSync(elsewhere).filter((f) => f.endsWith('.json'));
  assert.equal(ours.length, 1);
  const { tokens } = JSON.parse(readFileSync(join(elsewhere, ours[0]!), 'utf8')) as { tokens: { idToken: string; refreshToken: string } };
  assert.ok(tokens.refreshToken);
  // Forget it here (no logout: that would revoke the refresh token at the issuer).
  await w.stopAgent();
  rmSync(elsewhere, { recursive: true, force: true });

  // kubelogin's cache: ~/.kube/cache/oidc-login/<sha256 of its settings>, {"id_token","refresh_token"}, plus a .lock file.
  const kubeloginDir = join(w.env.HOME!, '.kube', 'cache', 'oidc-login');
  mkdirSync(kubeloginDir, { recursive: true, mode: 0o700 });
  const name = '3b7c0e2d9f1a4c6b8e5d7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c';
  writeFileSync(join(kubeloginDir, name), JSON.stringify({ id_token: tokens.idToken, refresh_token: tokens.refreshToken }), { mode: 0o600 });
  writeFileSync(join(kubeloginDir, `${name}.lock`), '');
  // Another issuer's session next to it, which must be left alone.
  writeFileSync(join(kubeloginDir, 'other'), JSON.stringify({ id_token: await w.issuer.mintIdToken({ iss: 'https://other.example.com' }), refresh_token: 'not-ours' }), { mode: 0o600 });

  const before = w.issuer.stats.tokenRequests.refresh_token;
  // kubelogin's default dir, as without KUBECACHEDIR (the rig's kubectl runs set one; that dir is test/e2e/accounts.test.ts's).
  const noKubeCacheDir = { env: { KUBECACHEDIR: undefined } };
  const r = await w.kubectl(['auth', 'whoami'], noKubeCacheDir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /alice@example\.com/);
  assert.equal(await w.launches(), 1, 'no browser login');
  assert.equal(w.issuer.stats.tokenRequests.refresh_token - before, 1, 'kubelogin\'s refresh token was spent once');
  assert.equal(w.issuer.stats.refreshFailures, 0);
  assert.equal((r.stderr.match(/using the session kubelogin left in .*oidc-login\/3b7c0e2d/g) ?? []).length, 1, `said once: ${r.stderr}`);
  const again = await w.kubectl(['auth', 'whoami'], noKubeCacheDir);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /kubelogin/, 'said only once');
  assert.equal(await w.launches(), 1);
});

test('a browser command that fails is reported, with the URL to open by hand', { skip, timeout: 60_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const r = await w.plugin(['get-token', ...without(w, '--browser-command'), '--browser-command=/bin/false', '--authentication-timeout-sec=3'], { env: execInfo(true) });
  assert.notEqual(r.code, 0);
  // The one-time login link (issue 17): whoever opens it first is the only one who can finish the login.
  assert.match(r.stderr, /Could not open a browser \(\/bin\/false: exit code 1\)\. Open this URL yourself:\n {2}http:\/\/localhost:\d+\/login\/[\w-]+\n/);
});
