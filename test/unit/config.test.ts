import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import { DEFAULT_LISTEN, type TokenFlags } from '../../lib/flags/table.js';
import { scopesFor } from '../../lib/oidc/provider.js';
import { isOidcError } from '../../lib/errors.js';

const base = ['--oidc-issuer-url=https://dex.example.com/dex', '--oidc-client-id=kubernetes'];
const parse = (args: string[]): TokenFlags => {
  const p = parseTokenFlags(args, '/home/u/work', {});
  if (p.help) assert.fail('unexpected --help');
  return p.flags;
};
const usage = (args: string[], pattern: RegExp) =>
  assert.throws(() => parse(args), (e) => isOidcError(e, 'E_USAGE') && pattern.test((e as Error).message));

test("defaults are kubelogin's", () => {
  const f = parse(base);
  assert.deepEqual(f.ui.listenAddress, DEFAULT_LISTEN);
  assert.equal(f.ui.authenticationTimeoutSec, 180);
  assert.equal(f.cache.storage, 'auto');
  assert.equal(f.ui.skipOpenBrowser, false);
  assert.deepEqual(scopesFor(f.provider), ['openid', 'offline_access']);
});

test('flags become typed parts: provider, ui, cache; relative paths resolved against the caller\'s cwd', () => {
  const f = parse([...base, '--oidc-extra-scope=email', '--oidc-extra-scope', 'groups', '--certificate-authority=ca.pem', '--certificate-authority=/etc/ca2.pem', '--token-cache-dir=cache', '--listen-address=127.0.0.1:0', '--browser-command=firefox']);
  assert.deepEqual(scopesFor(f.provider), ['openid', 'offline_access', 'email', 'groups']);
  assert.deepEqual(f.provider.caFiles, ['/home/u/work/ca.pem', '/etc/ca2.pem']);
  assert.equal(f.cache.dir, '/home/u/work/cache');
  assert.deepEqual(f.ui.listenAddress, ['127.0.0.1:0']);
  assert.equal(f.ui.browserCommand, 'firefox');
  assert.deepEqual(Object.keys(f.provider).sort(), ['caData', 'caFiles', 'clientId', 'extraScopes', 'insecureSkipTlsVerify', 'issuerUrl', 'offlineAccess'], 'no UI or cache setting in the identity part');
});

test('bad flags are named', () => {
  usage(['--oidc-client-id=x'], /missing --oidc-issuer-url/);
  usage(['--oidc-issuer-url=https://x'], /missing --oidc-client-id/);
  usage([...base, '--nope'], /unknown flag --nope/);
  usage([...base, 'positional'], /positional/i);
  usage(['--oidc-issuer-url=not a url', '--oidc-client-id=x'], /is not a URL/);
  usage(['--oidc-issuer-url=http://dex', '--oidc-client-id=x'], /must use https/);
  usage([...base, '--authentication-timeout-sec=soon'], /whole number of seconds/);
  usage([...base, '--authentication-timeout-sec=0'], /whole number of seconds/);
  usage([...base, '--token-cache-storage=bogus'], /must be one of auto, keyring, file, none/);
  usage([...base, '--oidc-redirect-url=localhost:8000'], /http\(s\) URL/);
  usage([...base, '--oidc-issuer-url'], /needs a value|argument missing/);
});

test('--help short-circuits validation', () => {
  assert.equal(parseTokenFlags(['--help'], '/', {}).help, true);
});

test("kubelogin's documented get-token flag set is accepted, each with kubelogin's meaning or a notice", () => {
  const p = parseTokenFlags(
    [
      ...base,
      '--oidc-client-secret=s3cret', '--oidc-extra-scope=email,profile', '--oidc-use-access-token', '--force-refresh',
      '--token-cache-dir=~/.kube/cache/oidc-login', '--token-cache-storage=disk', '--certificate-authority=~/ca.pem',
      '--certificate-authority-data=LS0t', '--insecure-skip-tls-verify', '--tls-renegotiation-once', '--tls-renegotiation-freely',
      '--oidc-pkce-method=S256', '--grant-type=authcode', '--listen-address=127.0.0.1:8000,127.0.0.1:18000', '--skip-open-browser=true',
      '--browser-command=google-chrome', '--authentication-timeout-sec=60', '--local-server-cert=~/localhost.crt', '--local-server-key=~/localhost.key',
      '--open-url-after-authentication=https://example.com/success.html', '--oidc-redirect-url-hostname=127.0.0.1',
      '--oidc-redirect-url-authcode-keyboard=http://localhost', '--oidc-auth-request-extra-params=ttl=86400', '--username=alice', '--password=pw',
      '-v1', '--logtostderr', '--log_dir', '/tmp/x', '--v=2',
    ],
    '/work',
    {},
  );
  if (p.help) assert.fail('help');
  const f = p.flags;
  const { homedir } = process.env.HOME ? { homedir: process.env.HOME } : { homedir: '' };
  assert.equal(p.debug, true, '-v1 turns on details');
  assert.equal(f.cache.storage, 'file', 'disk is file');
  assert.ok(f.cache.dir?.endsWith('/.kube/cache/oidc-login') && !f.cache.dir.includes('~'), 'a leading ~ is expanded');
  assert.ok(f.provider.caFiles[0]!.startsWith(homedir || '/'));
  assert.deepEqual(f.provider.extraScopes, ['email', 'profile']);
  assert.deepEqual(f.ui.listenAddress, ['127.0.0.1:8000', '127.0.0.1:18000']);
  assert.equal(f.ui.skipOpenBrowser, true);
  assert.equal(f.ui.pkceMethod, 'S256');
  assert.equal(f.ui.redirectHostname, '127.0.0.1');
  assert.deepEqual(f.ui.authRequestExtraParams, { ttl: '86400' });
  assert.equal(f.ui.keyboardRedirectUrl, 'http://localhost');
  assert.equal(f.ui.username, 'alice');
  assert.equal(f.ui.password, 'pw');
  assert.equal(f.useAccessToken, true);
  assert.equal(f.provider.insecureSkipTlsVerify, true);
  assert.equal(f.provider.clientSecret, 's3cret');
  for (const n of [/--oidc-client-secret is visible/, /--password is visible/, /--tls-renegotiation/, /--logtostderr .* ignored/, /--log_dir .* ignored/]) {
    assert.ok(f.notices.some((x) => n.test(x)), `a notice matching ${n}`);
  }
});

test('the client secret from a file or the environment, never needing argv', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/ko-cfg-`);
  writeFileSync(`${dir}/secret`, 'from-file\n', { mode: 0o600 });
  const fromFile = parseTokenFlags([...base, `--oidc-client-secret-file=${dir}/secret`], '/', {});
  assert.equal(!fromFile.help && fromFile.flags.provider.clientSecret, 'from-file');
  assert.equal(!fromFile.help && fromFile.flags.notices.length, 0, 'no warning: nothing in argv');
  const fromEnv = parseTokenFlags(base, '/', { KUBECTL_OIDC_CLIENT_SECRET: 'from-env' });
  assert.equal(!fromEnv.help && fromEnv.flags.provider.clientSecret, 'from-env');
  assert.throws(() => parseTokenFlags([...base, '--oidc-client-secret-file=/no/such'], '/', {}), (e) => isOidcError(e, 'E_CONFIG'));
});

test('provideClusterInfo: the cluster\'s exec extension supplies issuer, client, scopes and CA; user flags override', () => {
  const cluster = { config: { 'oidc-issuer-url': 'https://dex.b.example/dex', 'oidc-client-id': 'b', 'oidc-extra-scope': ['email', 'groups'], 'certificate-authority-data': 'Q0E=' } };
  const only = parseTokenFlags([], '/', {}, cluster);
  if (only.help) assert.fail('help');
  assert.equal(only.flags.provider.issuerUrl, 'https://dex.b.example/dex');
  assert.equal(only.flags.provider.clientId, 'b');
  assert.deepEqual(only.flags.provider.extraScopes, ['email', 'groups']);
  assert.deepEqual(only.flags.provider.caData, ['Q0E=']);
  const over = parseTokenFlags(['--oidc-client-id=mine'], '/', {}, cluster);
  assert.equal(!over.help && over.flags.provider.clientId, 'mine');
  const shared = parseTokenFlags([], '/', {}, { config: { 'oidc-issuer-url': 'https://x.example', 'oidc-client-id': 'c', 'use-cluster-certificate-authority': true }, caData: 'Q0xVU1RFUg==' });
  assert.deepEqual(!shared.help && shared.flags.provider.caData, ['Q0xVU1RFUg==']);
  assert.throws(() => parseTokenFlags([], '/', {}, {}), (e) => isOidcError(e, 'E_USAGE') && /client\.authentication\.k8s\.io\/exec/.test((e as { hint?: string }).hint ?? ''));
});

test('--no-offline-access drops the scope (and so is another session); the cross-client audience is the token audience', async () => {
  const { audiencesFor } = await import('../../lib/oidc/provider.js');
  const f = parse([...base, '--no-offline-access', '--oidc-extra-scope=audience:server:client_id:kubernetes-api']);
  assert.deepEqual(scopesFor(f.provider), ['openid', 'audience:server:client_id:kubernetes-api']);
  assert.deepEqual(audiencesFor(f.provider), ['kubernetes-api']);
  assert.deepEqual(audiencesFor(parse(base).provider), ['kubernetes']);
});

test('--session-name is part of the provider (the identity), checked to be short and printable', () => {
  assert.equal(parse([...base, '--session-name=work']).provider.sessionName, 'work');
  assert.equal(parse([...base, '--session-name=alice@corp.example:ldap_2']).provider.sessionName, 'alice@corp.example:ldap_2');
  assert.equal(parse(base).provider.sessionName, undefined);
  for (const bad of ['', ' work', 'a b', 'x'.repeat(65), 'work\u001b[31m', 'work\u202e', '-work', 'a/b', 'a\nb']) {
    usage([...base, `--session-name=${bad}`], /--session-name must be 1 to 64 letters/);
  }
});
