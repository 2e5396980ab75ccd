import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { complete } from '../../lib/completion.js';
import { FLAG_VALUES, TOKEN_FLAGS } from '../../lib/flags/table.js';

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
  assert.deepEqual(complete(['agent', '']).candidates, ['start', 'stop', 'status', 'install', 'uninstall']);
  assert.deepEqual(complete(['agent', 'in']).candidates, ['install']);
  assert.deepEqual(complete(['agent', 'install', '--']).candidates, ['--no-enable', '--help']);
  assert.deepEqual(complete(['agent', 'install', '']).candidates, [], 'no subcommand after a subcommand');
  assert.deepEqual(complete(['get-token', '--grant-type', 'device']).candidates, ['device-code']);
  assert.equal(complete(['login', '--certificate-authority', '']).directive, 0, 'a file name');
  assert.equal(complete(['login', '']).directive, 4);
});

test('every flag of the table completes for get-token, login, logout and setup, and each value list from the table', () => {
  for (const cmd of ['get-token', 'login', 'logout', 'setup']) {
    const offered = complete([cmd, '--']).candidates;
    for (const flag of Object.keys(TOKEN_FLAGS)) assert.ok(offered.includes(`--${flag}`), `${cmd} --${flag}`);
  }
  assert.ok(FLAG_VALUES['grant-type']?.includes('device-code'), 'the table lists the grant types');
  for (const [flag, values] of Object.entries(FLAG_VALUES)) {
    assert.ok(values && values.length > 0, flag);
    assert.deepEqual(complete(['get-token', `--${flag}=`]).candidates, values.map((v) => `--${flag}=${v}`), `--${flag}=`);
    assert.deepEqual(complete(['login', `--${flag}`, '']).candidates, [...values], `--${flag} VALUE`);
  }
  for (const flag of ['--certificate-authority', '--oidc-client-secret-file', '--token-cache-dir', '--local-server-cert', '--kubeconfig']) {
    assert.equal(complete(['setup', flag, '']).directive, 0, `${flag} takes a path`);
    assert.equal(complete(['setup', `${flag}=`]).directive, 0, `${flag}= takes a path`);
  }
  assert.equal(complete(['setup', '--oidc-client-id', '']).directive, 4);
});

/** kubectl's flags that setup's help shows in the command it prints, and fragments like `--oidc-` in prose. */
const NOT_OURS = /^--(exec-[\w-]+|[\w-]+-)$/;

test('completion offers every flag that each command\'s --help names (run from the built CLI)', { skip: existsSync(join(root, 'dist/kubectl-oidc.cjs')) ? false : 'no dist/ (npm run build)' }, () => {
  for (const cmd of [['get-token'], ['login'], ['logout'], ['status'], ['setup'], ['agent'], ['agent', 'install']]) {
    const help = execFileSync(process.execPath, [join(root, 'dist/kubectl-oidc.cjs'), ...cmd, '--help'], { encoding: 'utf8' });
    const named = new Set([...help.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]).filter((f) => !NOT_OURS.test(f)));
    assert.ok(named.size > 0, `${cmd.join(' ')} --help names flags`);
    const offered = complete([...cmd, '--']).candidates;
    for (const flag of named) assert.ok(offered.includes(flag), `\`kubectl oidc ${cmd.join(' ')} ${flag}\` is in --help but does not complete`);
  }
});

test('kubectl runs kubectl_complete-oidc from the PATH for `kubectl oidc <TAB>`', { skip: !process.env.PATH?.includes('/usr/bin') ? 'no /usr/bin' : false }, () => {
  const bin = mkdtempSync(join(tmpdir(), 'ko-compl-'));
  symlinkSync(join(root, 'dist/kubectl_complete-oidc.cjs'), join(bin, 'kubectl_complete-oidc'));
  symlinkSync(join(root, 'dist/kubectl-oidc.cjs'), join(bin, 'kubectl-oidc'));
  const out = execFileSync('/usr/bin/kubectl', ['__complete', 'oidc', 'lo'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, HOME: bin }, encoding: 'utf8' });
  assert.match(out, /^login\nlogout\n:4\n/);
});
