import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { complete } from '../../lib/completion.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

test('commands, flags, flag values, agent subcommands', () => {
  assert.deepEqual(complete(['']).candidates, ['get-token', 'login', 'logout', 'status', 'setup', 'agent', 'help']);
  assert.deepEqual(complete(['s']).candidates, ['status', 'setup']);
  assert.ok(complete(['login', '--oidc-']).candidates.includes('--oidc-issuer-url'));
  assert.ok(complete(['setup', '--wr']).candidates.includes('--write-kubeconfig'));
  assert.deepEqual(complete(['logout', '--a']).candidates.sort(), ['--all', '--authentication-timeout-sec']);
  assert.deepEqual(complete(['status', '-o', '']).candidates, ['table', 'json']);
  assert.deepEqual(complete(['get-token', '--token-cache-storage=k']).candidates, ['--token-cache-storage=keyring']);
  assert.deepEqual(complete(['agent', 'st']).candidates, ['start', 'stop', 'status']);
  assert.equal(complete(['login', '--certificate-authority', '']).directive, 0, 'a file name');
  assert.equal(complete(['login', '']).directive, 4);
});

test('kubectl runs kubectl_complete-oidc from the PATH for `kubectl oidc <TAB>`', { skip: !process.env.PATH?.includes('/usr/bin') ? 'no /usr/bin' : false }, () => {
  const bin = mkdtempSync(join(tmpdir(), 'ko-compl-'));
  symlinkSync(join(root, 'dist/kubectl_complete-oidc.cjs'), join(bin, 'kubectl_complete-oidc'));
  symlinkSync(join(root, 'dist/kubectl-oidc.cjs'), join(bin, 'kubectl-oidc'));
  const out = execFileSync('/usr/bin/kubectl', ['__complete', 'oidc', 'lo'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: bin }, encoding: 'utf8' });
  assert.match(out, /^login\nlogout\n:4\n/);
});
