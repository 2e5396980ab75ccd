/** plugin-manifest/: the kubeconfig entries and the Dex client say what get-token and Dex expect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../e2e/world.js';
import { parseTokenFlags } from '../../lib/flags/parse.js';

const read = (f: string) => parse(readFileSync(join(ROOT, 'plugin-manifest', f), 'utf8')) as Record<string, any>;

test('kubeconfig-user.yaml: a v1 exec entry that runs kubectl-oidc get-token with flags it accepts', () => {
  const exec = read('kubeconfig-user.yaml').users[0].user.exec;
  assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(exec.command, 'kubectl-oidc', 'the plugin itself, not kubectl (one process less per kubectl run)');
  assert.equal(exec.interactiveMode, 'IfAvailable');
  assert.equal(exec.args[0], 'get-token');
  const parsed = parseTokenFlags(exec.args.slice(1), '/', {});
  if (parsed.help) assert.fail('help');
  assert.equal(parsed.flags.provider.issuerUrl, 'https://dex.example.com/dex');
  assert.equal(parsed.flags.provider.clientId, 'kubernetes');
});

test('kubeconfig-cluster-info.yaml: provideClusterInfo, and per-cluster settings keyed by flag names without dashes', () => {
  const kc = read('kubeconfig-cluster-info.yaml');
  const exec = kc.users[0].user.exec;
  assert.equal(exec.command, 'kubectl-oidc');
  assert.equal(exec.provideClusterInfo, true);
  assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
  const flags = new Set(['oidc-issuer-url', 'oidc-client-id', 'oidc-extra-scope', 'certificate-authority-data', 'certificate-authority', 'use-cluster-certificate-authority']);
  for (const c of kc.clusters) {
    const ext = c.cluster.extensions.find((e: { name: string }) => e.name === 'client.authentication.k8s.io/exec');
    assert.ok(ext, `${c.name} has the exec extension`);
    for (const k of Object.keys(ext.extension)) assert.ok(flags.has(k), `${k} is a key get-token reads from the extension`);
    assert.match(ext.extension['oidc-issuer-url'], /^https:\/\//);
    // What get-token makes of it, with kubectl passing the extension as spec.cluster.config and no issuer flags:
    const parsed = parseTokenFlags(exec.args.slice(1), '/', {}, { config: ext.extension });
    if (parsed.help) assert.fail('help');
    assert.equal(parsed.flags.provider.issuerUrl, ext.extension['oidc-issuer-url']);
  }
});

test('dex-static-client.yaml: a public client (PKCE, loopback redirects)', () => {
  const c = read('dex-static-client.yaml').staticClients[0];
  assert.equal(c.id, 'kubernetes');
  assert.equal(c.public, true);
  assert.equal(c.secret, undefined);
});
