/**
 * Issue 16 item 6: every flag of `kubelogin get-token` parses here. The fixture is kubelogin's own
 * flag set (names and pflag types, from its pkg/cmd); each flag either changes the typed settings,
 * or is listed below as having no effect here, and then says so in a notice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import type { TokenFlags } from '../../lib/flags/table.js';

interface KubeloginFlag {
  name: string;
  type: 'string' | 'bool' | 'int' | 'stringSlice' | 'stringArray' | 'stringToString';
  file: string;
}
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/kubelogin-get-token-flags.json'), 'utf8')) as { source: string; flags: KubeloginFlag[] };

/** Accepted, and without effect here: why. */
const NO_EFFECT: Record<string, string> = {
  'tls-renegotiation-once': 'Node.js allows the renegotiation a TLS 1.2 server asks for',
  'tls-renegotiation-freely': 'Node.js allows the renegotiation a TLS 1.2 server asks for',
};

/** A value kubelogin accepts for each flag that takes one (not its default). */
const SAMPLES: Record<string, string[]> = {
  'oidc-issuer-url': ['https://other.example.com/'],
  'oidc-client-id': ['other'],
  'oidc-redirect-url': ['http://localhost:9999/'],
  'grant-type': ['client-credentials'],
  'listen-address': ['127.0.0.1:0,127.0.0.1:9000'],
  'authentication-timeout-sec': ['6'],
  'open-url-after-authentication': ['https://example.com/done'],
  'oidc-pkce-method': ['no'],
  'token-cache-storage': ['keyring'],
  'token-cache-dir': ['~/.kube/cache/oidc-login'],
  'oidc-auth-request-extra-params': ['login_hint=bob@example.com,connector_id=ldap'],
  'oidc-request-header': ['X-Tenant=blue'],
  'certificate-authority-data': ['QUJD'],
};
const base = ['--oidc-issuer-url=https://dex.example.com/dex', '--oidc-client-id=kubernetes'];
const parse = (argv: string[]): TokenFlags => {
  const p = parseTokenFlags(argv, '/home/u', { HOME: '/home/u' });
  if (p.help) assert.fail('unexpected --help');
  return p.flags;
};
const settings = (f: TokenFlags) => ({ ...f, notices: [] });

function argsFor(f: KubeloginFlag): string[] {
  if (f.type === 'bool') return [`--${f.name}`, `--${f.name}=true`];
  const value = SAMPLES[f.name]?.[0] ?? (f.type === 'int' ? '7' : f.type === 'stringToString' ? 'k=v' : `/tmp/${f.name}`);
  // kubelogin's pflag also takes `--flag value`.
  const args = [`--${f.name}=${value}`];
  if (f.name === 'local-server-cert') args.push('--local-server-key=/tmp/key.pem');
  if (f.name === 'local-server-key') args.push('--local-server-cert=/tmp/cert.pem');
  return args;
}

test(`the fixture is kubelogin's get-token flag set (${fixture.flags.length} flags)`, () => {
  assert.match(fixture.source, /int128\/kubelogin/);
  assert.ok(fixture.flags.length >= 28);
  for (const name of ['oidc-issuer-url', 'oidc-request-header', 'grant-type', 'oidc-use-pkce', 'token-cache-storage']) assert.ok(fixture.flags.some((f) => f.name === name), name);
});

for (const f of fixture.flags) {
  test(`kubelogin get-token --${f.name} (${f.type}, ${f.file}) parses${NO_EFFECT[f.name] ? ', with no effect here' : ' and takes effect'}`, () => {
    const plain = parse(base);
    const args = argsFor(f);
    const flags = parse([...base, ...args]);
    if (f.type === 'bool') assert.deepEqual(settings(parse([...base, args[1]!])), settings(flags), `--${f.name}=true is --${f.name}`);
    else assert.deepEqual(settings(parse([...base, `--${f.name}`, args[0]!.slice(f.name.length + 3), ...args.slice(1)])), settings(flags), `--${f.name} VALUE is --${f.name}=VALUE`);
    const why = NO_EFFECT[f.name];
    if (why) {
      assert.deepEqual(settings(flags), settings(plain), `--${f.name} changes nothing`);
      assert.ok(flags.notices.some((n) => n.includes(`--${f.name.replace(/-(once|freely)$/, '')}`)), `and says so: ${flags.notices.join('; ')}`);
    } else {
      assert.notDeepEqual(settings(flags), settings(plain), `--${f.name} changes the settings`);
    }
  });
}

test('the flags with no effect here are named in a notice', () => {
  for (const name of Object.keys(NO_EFFECT)) assert.ok(fixture.flags.some((f) => f.name === name), `${name} is a kubelogin flag`);
});
