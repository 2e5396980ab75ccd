/**
 * Issue 17 item 6: `setup --write-kubeconfig` must not follow a symlink planted where it writes. Its
 * temporary file and its backup are new files created exclusively (O_EXCL, 0600) under random names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeUserAndContext } from '../../lib/kubeconfig.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: 'https://127.0.0.1:6443'}
contexts:
- name: admin@prod
  context: {cluster: prod, user: admin}
current-context: admin@prod
users:
- name: admin
  user: {token: static-admin-token}
`;
const want = { user: 'oidc', context: 'oidc@prod', cluster: 'prod', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc', args: ['get-token'], interactiveMode: 'IfAvailable' } };

test('a symlink planted at the old fixed temp name is not followed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-kc-'));
  const path = join(dir, 'config');
  writeFileSync(path, KUBECONFIG, { mode: 0o644 });
  const attackers = join(dir, 'attackers-file');
  writeFileSync(attackers, 'nothing yet\n');
  symlinkSync(attackers, `${path}.kubectl-oidc.tmp`);

  const r = await writeUserAndContext(path, want);
  assert.equal(r.changed, true);
  assert.equal(readFileSync(attackers, 'utf8'), 'nothing yet\n', 'nothing written through the planted link');
  assert.ok(lstatSync(`${path}.kubectl-oidc.tmp`).isSymbolicLink(), 'the planted link is left alone');
  const written = readFileSync(path, 'utf8');
  assert.match(written, /name: oidc/);
  assert.match(written, /static-admin-token/, 'every other entry kept');
  assert.ok(lstatSync(path).isFile(), 'the kubeconfig is a regular file, not a link');
  assert.equal(statSync(path).mode & 0o777, 0o600, 'written 0600, as kubectl writes kubeconfigs');
  assert.equal(statSync(r.backup!).mode & 0o777, 0o600, 'the backup, which holds the admin token, too');
  assert.equal(readFileSync(r.backup!, 'utf8'), KUBECONFIG);
  assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp') && f !== 'config.kubectl-oidc.tmp'), 'no temp file left behind');
});

test('two writes get two backups (random names), and an unchanged kubeconfig is not written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-kc-'));
  const path = join(dir, 'config');
  writeFileSync(path, KUBECONFIG);
  const a = await writeUserAndContext(path, want);
  assert.equal((await writeUserAndContext(path, want)).changed, false);
  const b = await writeUserAndContext(path, { ...want, exec: { ...want.exec, args: ['get-token', '--debug'] } });
  assert.ok(a.backup && b.backup && a.backup !== b.backup);
});
