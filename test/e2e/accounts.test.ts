/**
 * Issue 16, "Every account its own session" (items 1 and 2): two people at one issuer, through real
 * kubectl, the agent, a real HTTPS issuer and Chromium. The people differ only by what picks the
 * account: a login_hint, --username on the password grant, or a --session-name.
 * On the code before that issue, the second person got the first one's session (run against another
 * build with KUBECTL_OIDC_TEST_ENTRY).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, requireTools, cacheFiles, execInfo, run, ENTRY, type World } from './world.js';
import { writeBrowserWrapper } from '../rig/browser.js';
import { PASSWORD_FOR_TESTS, PUBLIC_CLIENT_ID } from '../rig/issuer.js';
import { caDigestOf, loadCustomCAs } from '../../lib/oidc/ca.js';

const skip = requireTools();

/** `kubectl auth whoami` as the user of kubeconfig `kc`: the username it prints (the email claim here). */
async function whoami(w: World, kc: string, env: Record<string, string | undefined> = {}): Promise<string> {
  const r = await w.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: kc, env });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { status: { userInfo: { username: string } } }).status.userInfo.username;
}

/** The world's get-token flags without the ones given in `drop` (by flag name). */
const argsWithout = (w: World, ...drop: string[]) => w.tokenArgs.filter((a) => !drop.some((d) => a.startsWith(`--${d}=`)));

test('two kubeconfig users differing only by login_hint are two people, each kept in its own session', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const alice = await w.kubeconfig('kc-alice');
  const bob = await w.kubeconfig('kc-bob', {}, ['--oidc-auth-request-extra-params=login_hint=bob@example.com']);

  assert.equal(await whoami(w, alice), 'alice@example.com');
  assert.equal(await w.launches(), 1);
  assert.equal(await whoami(w, bob), 'bob@example.com', "bob's context must not get alice's session");
  assert.equal(await w.launches(), 2, 'a login of its own');
  assert.equal(cacheFiles(w).length, 2, 'two token files');

  for (let i = 0; i < 2; i++) {
    assert.equal(await whoami(w, bob), 'bob@example.com');
    assert.equal(await whoami(w, alice), 'alice@example.com');
  }
  assert.equal(await w.launches(), 2, 'both from their sessions: no new login');

  // A new agent reads each from its own token file.
  await w.stopAgent();
  assert.equal(await whoami(w, bob), 'bob@example.com');
  assert.equal(await whoami(w, alice), 'alice@example.com');
  assert.equal(await w.launches(), 2);
});

test('--username on the password grant: two people, two sessions, no browser', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const password = ['--grant-type=password'];
  const alice = await w.kubeconfig('kc-alice', {}, [...password, '--username=alice']);
  const bob = await w.kubeconfig('kc-bob', {}, [...password, '--username=bob']);
  const env = { KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS };

  assert.equal(await whoami(w, alice, env), 'alice@example.com');
  assert.equal(await whoami(w, bob, env), 'bob@example.com', "bob must not get alice's session");
  assert.equal(w.issuer.stats.tokenRequests.password, 2, 'one password grant each');
  for (let i = 0; i < 2; i++) {
    assert.equal(await whoami(w, bob, env), 'bob@example.com');
    assert.equal(await whoami(w, alice, env), 'alice@example.com');
  }
  await w.stopAgent();
  assert.equal(await whoami(w, bob, {}), 'bob@example.com', 'from its token file, no password needed');
  assert.equal(await whoami(w, alice, {}), 'alice@example.com');
  assert.equal(w.issuer.stats.tokenRequests.password, 2, 'no new grant');
  assert.equal(await w.launches(), 0, 'never a browser');
});

test('--session-name keeps two accounts with otherwise equal flags apart; status shows it, logout finds it', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // The same flags but the name; each person signs in at their own browser.
  const bobBrowser = writeBrowserWrapper(w.dir, { log: w.browserLog, mode: 'login', spki: w.issuer.spki, login: 'bob' }, 'rig-browser-bob');
  const aliceArgs = [...w.tokenArgs, '--session-name=alice-work'];
  const bobArgs = [...argsWithout(w, 'browser-command'), `--browser-command=${bobBrowser}`, '--session-name=bob-work'];
  const alice = await w.kubeconfig('kc-alice', { args: ['get-token', ...aliceArgs] });
  const bob = await w.kubeconfig('kc-bob', { args: ['get-token', ...bobArgs] });

  assert.equal(await whoami(w, alice), 'alice@example.com');
  assert.equal(await whoami(w, bob), 'bob@example.com');
  assert.equal(await w.launches(), 2);
  for (let i = 0; i < 2; i++) {
    assert.equal(await whoami(w, bob), 'bob@example.com');
    assert.equal(await whoami(w, alice), 'alice@example.com');
  }
  assert.equal(await w.launches(), 2, 'both from their sessions');

  const st = await w.plugin(['status', '-o', 'json']);
  assert.equal(st.code, 0, st.stderr);
  const sessions = (JSON.parse(st.stdout) as { sessions: { sessionName: string | null; user: string | null }[] }).sessions;
  assert.deepEqual(sessions.map((s) => [s.sessionName, s.user]).sort(), [['alice-work', 'alice@example.com'], ['bob-work', 'bob@example.com']]);
  const table = await w.plugin(['status']);
  assert.match(table.stdout, /^ISSUER\s+CLIENT\s+NAME\s+USER/);
  assert.match(table.stdout, /bob-work\s+bob@example\.com/);

  const out = await w.plugin(['logout', ...bobArgs]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /logged out \(removed from agent memory, the token file in /);
  assert.equal(await whoami(w, alice), 'alice@example.com', "alice's session is untouched");
  assert.equal(await w.launches(), 2);
  assert.equal(await whoami(w, bob), 'bob@example.com');
  assert.equal(await w.launches(), 3, 'bob logged in again');

  const bad = await w.plugin(['get-token', ...w.tokenArgs, '--session-name=two words'], { env: execInfo(false) });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--session-name must be 1 to 64 letters/);
});

test('a session with no username, extra params or session name keeps the key (and token file) of the code before them', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // The key as lib/store/key.ts computed it before issue 16, frozen here.
  const scopes = ['openid', 'offline_access', 'email', 'groups'].sort();
  const caDigest = caDigestOf(await loadCustomCAs([w.ca.caFile], []));
  const json = `{"caDigest":${JSON.stringify(caDigest)},"clientId":${JSON.stringify(PUBLIC_CLIENT_ID)},"issuerUrl":${JSON.stringify(w.issuer.url)},"scopes":${JSON.stringify(scopes)},"v":1}`;
  const oldKey = createHash('sha256').update(json).digest('hex');
  assert.equal(await whoami(w, join(w.dir, 'kubeconfig')), 'alice@example.com');
  assert.deepEqual(cacheFiles(w), [`${oldKey}.json`]);

  // With a build from before issue 16 (KUBECTL_OIDC_PREVIOUS_ENTRY=…/dist/kubectl-oidc.cjs): its token file is used as is.
  const previous = process.env.KUBECTL_OIDC_PREVIOUS_ENTRY;
  if (!previous) {
    t.diagnostic('KUBECTL_OIDC_PREVIOUS_ENTRY is not set: the file written by an older build was not tried');
    return;
  }
  await w.stopAgent();
  rmSync(join(w.env.XDG_CACHE_HOME!, 'kubectl-oidc'), { recursive: true, force: true });
  const env = { ...process.env, ...w.env, ...execInfo(true) };
  const old = await run(process.execPath, [previous, 'get-token', ...w.tokenArgs], env, 60_000);
  assert.equal(old.code, 0, old.stderr);
  await run(process.execPath, [previous, 'agent', 'stop'], env, 10_000);
  assert.equal(await w.launches(), 2, 'the older build logged in');
  assert.deepEqual(cacheFiles(w), [`${oldKey}.json`], 'under the same name');
  assert.notEqual(previous, ENTRY);
  assert.equal(await whoami(w, join(w.dir, 'kubeconfig')), 'alice@example.com');
  assert.equal(await w.launches(), 2, 'this build used the older build\'s session: no login');
});

test("kubelogin's session is taken over only for the same account, from a safe place (KUBECACHEDIR honoured)", { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  // Real refresh tokens of bob's, from logins kept in throwaway cache dirs (forgotten without a logout,
  // which would revoke them), each by an agent of its own. Two of them: each can be spent once.
  const bobTokens = async (tag: string) => {
    const dir = join(w.dir, `first-${tag}`);
    await w.stopAgent();
    const r = await w.plugin(['get-token', ...w.tokenArgs, `--token-cache-dir=${dir}`, '--oidc-auth-request-extra-params=login_hint=bob@example.com'], { env: execInfo(true) });
    assert.equal(r.code, 0, r.stderr);
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const { tokens } = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { tokens: { idToken: string; refreshToken: string } };
    assert.ok(tokens.refreshToken);
    return JSON.stringify({ id_token: tokens.idToken, refresh_token: tokens.refreshToken });
  };
  const planted = await bobTokens('planted');
  const kept = await bobTokens('kept');
  await w.stopAgent();
  assert.equal(await w.launches(), 2);

  // The audit: bob plants his session in a kubelogin cache dir that anyone can write (there, a world-writable
  // --token-cache-dir; such a dir is now refused as a token cache outright, so here it is kubelogin's default dir).
  const shared = join(w.env.HOME!, '.kube', 'cache', 'oidc-login');
  mkdirSync(shared, { recursive: true, mode: 0o700 });
  chmodSync(shared, 0o777);
  writeFileSync(join(shared, 'f3a1c2'), planted, { mode: 0o644 });
  if (process.getuid?.() === 0) chownSync(join(shared, 'f3a1c2'), 65534, 65534);
  const alice = await w.kubeconfig('kc-alice');
  const before = w.issuer.stats.tokenRequests.refresh_token;
  // KUBECACHEDIR unset (the rig's kubectl runs set one): kubelogin's default dir is looked at.
  assert.equal(await whoami(w, alice, { KUBECACHEDIR: undefined }), 'alice@example.com', "bob's planted session was not adopted");
  assert.equal(await w.launches(), 3, 'alice logged in herself');
  assert.equal(w.issuer.stats.tokenRequests.refresh_token, before, 'the planted refresh token was never spent');

  // kubelogin's own cache, where KUBECACHEDIR puts it: bob's session, safely kept.
  const kubecache = join(w.dir, 'kubecache');
  mkdirSync(join(kubecache, 'oidc-login'), { recursive: true, mode: 0o700 });
  writeFileSync(join(kubecache, 'oidc-login', '9c1e7b'), kept, { mode: 0o600 });
  const env = { KUBECACHEDIR: kubecache };
  const carol = await w.kubeconfig('kc-carol', {}, ['--oidc-auth-request-extra-params=login_hint=carol@example.com']);
  assert.equal(await whoami(w, carol, env), 'carol@example.com', "carol does not get bob's kubelogin session");
  assert.equal(await w.launches(), 4);

  const bob = await w.kubeconfig('kc-bob', {}, ['--oidc-auth-request-extra-params=login_hint=bob@example.com']);
  const r = await w.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: bob, env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).status.userInfo.username, 'bob@example.com');
  assert.match(r.stderr, /using the session kubelogin left in .*kubecache\/oidc-login\/9c1e7b/);
  assert.equal(await w.launches(), 4, "bob's own kubelogin session: no login");
  assert.equal(w.issuer.stats.tokenRequests.refresh_token - before, 1, 'its refresh token spent once');
  assert.equal(w.issuer.stats.refreshFailures, 0);
});
