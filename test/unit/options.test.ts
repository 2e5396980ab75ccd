import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFlags, scopesFor, DEFAULT_LISTEN } from '../../lib/options.js';
import { isOidcError } from '../../lib/errors.js';

const base = ['--oidc-issuer-url=https://dex.example.com/dex', '--oidc-client-id=kubernetes'];
const parse = (args: string[]) => parseTokenFlags(args, '/home/u/work', {}).options;
const usage = (args: string[], pattern: RegExp) =>
  assert.throws(() => parse(args), (e) => isOidcError(e, 'E_USAGE') && pattern.test((e as Error).message));

test('defaults are kubelogin\'s', () => {
  const o = parse(base);
  assert.deepEqual(o.listenAddress, DEFAULT_LISTEN);
  assert.equal(o.authenticationTimeoutSec, 180);
  assert.equal(o.tokenCacheStorage, 'auto');
  assert.equal(o.skipOpenBrowser, false);
  assert.deepEqual(scopesFor(o), ['openid', 'offline_access']);
});

test('repeatable flags, relative paths resolved against the caller\'s cwd', () => {
  const o = parse([...base, '--oidc-extra-scope=email', '--oidc-extra-scope', 'groups', '--certificate-authority=ca.pem', '--certificate-authority=/etc/ca2.pem', '--token-cache-dir=cache', '--listen-address=127.0.0.1:0']);
  assert.deepEqual(scopesFor(o), ['openid', 'offline_access', 'email', 'groups']);
  assert.deepEqual(o.certificateAuthority, ['/home/u/work/ca.pem', '/etc/ca2.pem']);
  assert.equal(o.tokenCacheDir, '/home/u/work/cache');
  assert.deepEqual(o.listenAddress, ['127.0.0.1:0']);
});

test('bad flags are named', () => {
  usage(['--oidc-client-id=x'], /missing required flag --oidc-issuer-url/);
  usage(['--oidc-issuer-url=https://x'], /missing required flag --oidc-client-id/);
  usage([...base, '--nope'], /unknown flag --nope/);
  usage([...base, 'positional'], /positional/i);
  usage(['--oidc-issuer-url=not a url', '--oidc-client-id=x'], /is not a URL/);
  usage(['--oidc-issuer-url=http://dex', '--oidc-client-id=x'], /must use https/);
  usage([...base, '--authentication-timeout-sec=soon'], /whole number of seconds/);
  usage([...base, '--authentication-timeout-sec=0'], /whole number of seconds/);
  usage([...base, '--token-cache-storage=disk'], /must be one of auto, keyring, file, none/);
  usage([...base, '--oidc-redirect-url=localhost:8000'], /http\(s\) URL/);
  usage([...base, '--oidc-issuer-url'], /needs a value|argument missing/);
});

test('--help short-circuits validation', () => {
  assert.equal(parseTokenFlags(['--help'], '/', {}).help, true);
});
