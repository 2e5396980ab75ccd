import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTokenFlags, scopesFor, warnSecretInArgvOnce, DEFAULT_LISTEN, type TokenFlags } from '../../lib/config.js';
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
  assert.deepEqual(Object.keys(f.provider).sort(), ['caData', 'caFiles', 'clientId', 'extraScopes', 'issuerUrl'], 'no UI or cache setting in the identity part');
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
  usage([...base, '--token-cache-storage=bogus'], /must be one of auto, keyring, file, none/);
  usage([...base, '--oidc-redirect-url=localhost:8000'], /http\(s\) URL/);
  usage([...base, '--oidc-issuer-url'], /needs a value|argument missing/);
});

test('--help short-circuits validation', () => {
  assert.equal(parseTokenFlags(['--help'], '/', {}).help, true);
});

test('--oidc-client-secret as a flag: warned once per user, never showing the secret', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'ko-secret-'));
  try {
    const env = { XDG_STATE_HOME: dir };
    const base = ['--oidc-issuer-url=https://issuer.example', '--oidc-client-id=c'];
    const out: string[] = [];
    warnSecretInArgvOnce(parseTokenFlags(base, '/', env), env, (t) => out.push(t));
    assert.equal(out.length, 0, 'no secret, no warning');
    for (let i = 0; i < 3; i++) warnSecretInArgvOnce(parseTokenFlags([...base, '--oidc-client-secret=s3cr3t-value'], '/', env), env, (t) => out.push(t));
    assert.equal(out.length, 1, 'once');
    assert.match(out[0]!, /^kubectl-oidc: warning: --oidc-client-secret on the command line is visible to every user/);
    assert.doesNotMatch(out[0]!, /s3cr3t/);
    assert.equal(out[0]!.trim().split('\n').length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
