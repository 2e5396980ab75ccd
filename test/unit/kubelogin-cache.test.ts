import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKubeloginSession, kubeloginCacheDir, type KubeloginWanted } from '../../lib/store/kubelogin.js';

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const ISS = 'https://dex.example.com/dex';
const want = (o: Partial<KubeloginWanted> = {}): KubeloginWanted => ({ issuerUrl: ISS, clientId: 'kubernetes', scopes: ['openid', 'offline_access'], extraParams: {}, ...o });

test('finds the session for this issuer and client by the ID token, the newest one, ignoring everything else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-kubelogin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, doc: unknown) => writeFileSync(join(dir, name), typeof doc === 'string' ? doc : JSON.stringify(doc));
  put('a', { id_token: jwt({ iss: ISS, aud: 'kubernetes', iat: 100 }), refresh_token: 'old' });
  put('b', { id_token: jwt({ iss: ISS, aud: ['other', 'kubernetes'], iat: 200 }), refresh_token: 'new' });
  put('c', { id_token: jwt({ iss: ISS, aud: 'another-client', iat: 300 }), refresh_token: 'wrong-client' });
  put('d', { id_token: jwt({ iss: `${ISS}/`, aud: 'kubernetes', iat: 400 }), refresh_token: 'wrong-issuer' });
  put('e', { id_token: jwt({ iss: ISS, aud: 'kubernetes', iat: 500 }) });
  put('f', 'not json');
  put('b.lock', '');
  put('big', 'x'.repeat(100 * 1024));
  try {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
  } catch {}
  const found = await findKubeloginSession([dir, join(dir, 'missing')], want());
  assert.deepEqual(found && { file: found.file, refreshToken: found.refreshToken }, { file: join(dir, 'b'), refreshToken: 'new' });
  assert.equal(await findKubeloginSession([dir], want({ clientId: 'nobody' })), undefined);
});

/** A kubelogin cache dir with alice's and bob's sessions for the same issuer and client. */
function twoPeople(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'ko-kubelogin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, claims: Record<string, unknown>, rt: string) =>
    writeFileSync(join(dir, name), JSON.stringify({ id_token: jwt({ iss: ISS, aud: 'kubernetes', ...claims }), refresh_token: rt }), { mode: 0o600 });
  put('alice', { sub: 'alice-sub', email: 'alice@example.com', iat: 100 }, 'rt-alice');
  put('bob', { sub: 'bob-sub', email: 'Bob@Example.com', preferred_username: 'bob', iat: 200 }, 'rt-bob');
  return { dir, put };
}

test('the same account only: username and login_hint must be named by the token; other params and session names are never taken over', async (t) => {
  const { dir } = twoPeople(t);
  const rt = async (w: KubeloginWanted) => (await findKubeloginSession([dir], w))?.refreshToken;
  assert.equal(await rt(want({ extraParams: { login_hint: 'bob@example.com' } })), 'rt-bob', 'login_hint by email (case-insensitive)');
  assert.equal(await rt(want({ extraParams: { login_hint: 'alice@example.com' } })), 'rt-alice');
  assert.equal(await rt(want({ username: 'bob' })), 'rt-bob', 'username by preferred_username');
  assert.equal(await rt(want({ username: 'alice-sub' })), 'rt-alice', 'username by sub');
  assert.equal(await rt(want({ username: 'carol' })), undefined, 'nobody named carol');
  assert.equal(await rt(want({ username: 'alice', extraParams: { login_hint: 'bob@example.com' } })), undefined, 'both must match');
  assert.equal(await rt(want()), undefined, 'no username or hint, two people: which one was meant cannot be told');
  assert.equal(await rt(want({ extraParams: { connector_id: 'ldap' } })), undefined, 'a connector cannot be seen in the token');
  assert.equal(await rt(want({ extraParams: { login_hint: 'bob@example.com', prompt: 'consent' } })), undefined);
  assert.equal(await rt(want({ sessionName: 'work', extraParams: { login_hint: 'bob@example.com' } })), undefined, 'kubelogin has no session names');
  rmSync(join(dir, 'alice'));
  assert.equal(await rt(want()), 'rt-bob', 'one person: taken over');
});

test('scopes as far as the token shows them: a session asking for email or groups needs those claims', async (t) => {
  const { dir } = twoPeople(t);
  const rt = async (w: KubeloginWanted) => (await findKubeloginSession([dir], w))?.refreshToken;
  assert.equal(await rt(want({ scopes: ['openid', 'offline_access', 'email'], username: 'bob' })), 'rt-bob');
  assert.equal(await rt(want({ scopes: ['openid', 'offline_access', 'groups'], username: 'bob' })), undefined, 'no groups claim: not issued for these scopes');
});

test('only the user\'s own file, not writable by others, in a directory not writable by others', async (t) => {
  const { dir, put } = twoPeople(t);
  rmSync(join(dir, 'alice'));
  const bob = want({ username: 'bob' });
  const found = async (d = dir) => (await findKubeloginSession([d], bob))?.file;
  assert.equal(await found(), join(dir, 'bob'));

  chmodSync(join(dir, 'bob'), 0o666);
  assert.equal(await found(), undefined, 'world-writable file');
  chmodSync(join(dir, 'bob'), 0o620);
  assert.equal(await found(), undefined, 'group-writable file');
  chmodSync(join(dir, 'bob'), 0o600);

  chmodSync(dir, 0o777);
  assert.equal(await found(), undefined, 'world-writable directory (anyone could have planted it)');
  chmodSync(dir, 0o1777);
  assert.equal(await found(), undefined, 'sticky, still world-writable');
  chmodSync(dir, 0o700);

  if (process.getuid?.() === 0) {
    // Only root can give a file away; a file another user owns is never taken over.
    chownSync(join(dir, 'bob'), 65534, 65534);
    assert.equal(await found(), undefined, "another user's file");
    chownSync(join(dir, 'bob'), 0, 0);
    const other = mkdtempSync(join(tmpdir(), 'ko-kubelogin-other-'));
    t.after(() => rmSync(other, { recursive: true, force: true }));
    copyFileSync(join(dir, 'bob'), join(other, 'bob'));
    chownSync(other, 65534, 65534);
    assert.equal(await found(other), undefined, "a directory another user owns");
  }

  // A symlink to a session elsewhere is not a file in this directory.
  const elsewhere = mkdtempSync(join(tmpdir(), 'ko-kubelogin-link-'));
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  symlinkSync(join(dir, 'bob'), join(elsewhere, 'bob'));
  assert.equal(await found(elsewhere), undefined, 'symlink');
  put('bob2', { sub: 'bob-sub', email: 'bob@example.com', preferred_username: 'bob', iat: 300 }, 'rt-bob2');
  assert.equal(await found(), join(dir, 'bob2'), 'the newest of one person\'s files');
});

test("kubelogin's default dir follows KUBECACHEDIR, as kubelogin does", () => {
  assert.equal(kubeloginCacheDir({ KUBECACHEDIR: '/srv/kc' }), '/srv/kc/oidc-login');
  assert.match(kubeloginCacheDir({}), /\/\.kube\/cache\/oidc-login$/);
});
