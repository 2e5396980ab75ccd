/** plugin-manifest/: the kubeconfig entries and the Dex client say what get-token and Dex expect. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../e2e/world.js';
import { parseTokenFlags } from '../../lib/options.js';

const read = (f: string) => parse(readFileSync(join(ROOT, 'plugin-manifest', f), 'utf8')) as Record<string, any>;

test('kubeconfig-user.yaml: a v1 exec entry that runs kubectl-oidc get-token with flags it accepts', () => {
  const exec = read('kubeconfig-user.yaml').users[0].user.exec;
  assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(exec.command, 'kubectl-oidc', 'the plugin itself, not kubectl (one process less per kubectl run)');
  assert.equal(exec.interactiveMode, 'IfAvailable');
  assert.equal(exec.args[0], 'get-token');
  const { options } = parseTokenFlags(exec.args.slice(1), '/', {});
  assert.equal(options.issuerUrl, 'https://dex.example.com/dex');
  assert.equal(options.clientId, 'kubernetes');
});

test('kubeconfig-cluster-info.yaml: provideClusterInfo, and per-cluster settings keyed by flag names without dashes', () => {
  const kc = read('kubeconfig-cluster-info.yaml');
  const exec = kc.users[0].user.exec;
  assert.equal(exec.command, 'kubectl-oidc');
  assert.equal(exec.provideClusterInfo, true);
  assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1');
  const flags = new Set(['oidc-issuer-url', 'oidc-client-id', 'oidc-extra-scope', 'certificate-authority-data', 'certificate-authority', 'oidc-client-secret']);
  for (const c of kc.clusters) {
    const ext = c.cluster.extensions.find((e: { name: string }) => e.name === 'client.authentication.k8s.io/exec');
    assert.ok(ext, `${c.name} has the exec extension`);
    for (const k of Object.keys(ext.extension)) assert.ok(flags.has(k), `${k} is a get-token flag name`);
    assert.match(ext.extension['oidc-issuer-url'], /^https:\/\//);
  }
});

test('dex-static-client.yaml: a public client (PKCE, loopback redirects)', () => {
  const c = read('dex-static-client.yaml').staticClients[0];
  assert.equal(c.id, 'kubernetes');
  assert.equal(c.public, true);
  assert.equal(c.secret, undefined);
});
