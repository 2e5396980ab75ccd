/**
 * Issue 17 item 7: `agent install` writes paths into a systemd unit and a launchd plist. Each must
 * read back as the same path: systemd's specifiers (%), variables ($, not expanded in the
 * executable's path) and quoting; XML's escapes. What cannot be written safely (a newline would
 * inject directives) is refused. Checked with systemd-analyze verify (which looks up the executable
 * ExecStart names) and Python's plistlib.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchdPlist, serviceFile, systemdUnit, installAgent } from '../../lib/commands/agent-install.js';
import { isOidcError } from '../../lib/errors.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const PYTHON = '/usr/bin/python3';

/** Directory names a user's install path may really have. */
const HOSTILE_NAMES = ['a b', '100%', '%h', '$HOME', '${HOME}', 'cost$$', "it's", 'say "hi"', 'back\\slash', 'trail\\', 'semi;colon', 'ünïcødé', 'x  two  spaces', '$$%%"\'\\ all'];

/** A unit whose ExecStart runs `exe agent …` (and, npm style, `node entry agent …`), verified by systemd itself. */
function verify(unitText: string, dir: string): { status: number | null; stderr: string } {
  const unitDir = join(dir, 'home/.config/systemd/user');
  mkdirSync(unitDir, { recursive: true });
  const unit = join(unitDir, 'kubectl-oidc-agent.service');
  writeFileSync(unit, unitText);
  const rt = join(dir, 'rt');
  mkdirSync(rt, { recursive: true, mode: 0o700 });
  const env = { PATH: '/usr/bin:/bin', HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'home/.config'), XDG_RUNTIME_DIR: rt };
  const r = spawnSync(SYSTEMD_ANALYZE, ['--user', 'verify', unit], { encoding: 'utf8', env, timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

test('systemd: an executable under each hostile directory name is the one ExecStart runs (systemd-analyze verify finds it, or env for a quote or backslash)', { skip: existsSync(SYSTEMD_ANALYZE) ? false : `${SYSTEMD_ANALYZE} is missing` }, () => {
  const base = mkdtempSync(join(tmpdir(), 'ko-unit-esc-'));
  for (const [i, name] of HOSTILE_NAMES.entries()) {
    const dir = join(base, String(i));
    const exeDir = join(dir, name);
    mkdirSync(exeDir, { recursive: true });
    const exe = join(exeDir, 'kubectl-oidc');
    writeFileSync(exe, '#!/bin/sh\nexit 0\n');
    chmodSync(exe, 0o755);
    for (const command of [[exe], [exe, join(exeDir, 'entry.cjs')]]) {
      const text = systemdUnit(command);
      assert.equal(text.split('\n').filter((l) => l.startsWith('ExecStart=')).length, 1);
      assert.equal(/^ExecStart=\/usr\/bin\/env /m.test(text), /["'\\]/.test(exe), 'env only for a path systemd would refuse');
      const v = verify(text, dir);
      assert.equal(v.status, 0, `${JSON.stringify(name)}: ${v.stderr}\n${text}`);
      assert.equal(v.stderr.trim(), '', `${JSON.stringify(name)}: no warnings (quoting, escapes, specifiers)`);
    }
  }
});

test('systemd: how each word is written (the path keeps its $, arguments double it; % always doubled; quotes and backslashes escaped)', () => {
  const line = (cmd: string[]) => /^ExecStart=(.*)$/m.exec(systemdUnit(cmd))![1];
  assert.equal(line(['/opt/$x/ko']), '"/opt/$x/ko" agent --idle-timeout=0');
  assert.equal(line(['/usr/bin/node', '/opt/$x/ko.cjs']), '/usr/bin/node "/opt/$$x/ko.cjs" agent --idle-timeout=0');
  assert.equal(line(['/opt/100%/ko']), '"/opt/100%%/ko" agent --idle-timeout=0');
  assert.equal(line(['/usr/bin/node', '/opt/a "b" \\c/ko.cjs']), '/usr/bin/node "/opt/a \\"b\\" \\\\c/ko.cjs" agent --idle-timeout=0');
  // systemd runs no executable path with a quote or backslash: env runs it, the path an argument.
  assert.equal(line(["/home/o'brien/$x/ko"]), `/usr/bin/env "/home/o'brien/$$x/ko" agent --idle-timeout=0`);
  assert.throws(() => systemdUnit(["/home/o'brien/a=b/ko"]), (e) => isOidcError(e, 'E_CONFIG') && /an = \(so env cannot run it either\)/.test((e as Error).message));
});

test('a path with a newline (or another control character, or bytes that were not UTF-8) is refused: no unit, no plist, one line', async () => {
  const home = mkdtempSync(join(tmpdir(), 'ko-unit-nl-'));
  const bad = ['/opt/x\nExecStartPre=/bin/sh -c "id > /tmp/pwned"\n/ko', '/opt/x\r/ko', '/opt/x\t/ko', '/opt/x\u0000/ko', '/opt/x\u001b]0;t\u0007/ko', '/opt/\ufffd/ko', '/opt/\ud800/ko'];
  for (const path of bad) {
    for (const make of [() => systemdUnit([path]), () => systemdUnit(['/usr/bin/node', path]), () => launchdPlist([path], '/tmp/log'), () => launchdPlist(['/x'], path)]) {
      assert.throws(make, (e) => {
        assert.ok(isOidcError(e, 'E_CONFIG'), String(e));
        assert.doesNotMatch((e as Error).message, /[\n\r\u0000\u001b]/, 'the message is one printable line');
        assert.match((e as Error).message, /^cannot write the (systemd unit|launchd plist): the path ".*" contains (a newline|a control character|bytes that are not UTF-8|text that is not UTF-8), which it cannot hold safely$/);
        return true;
      });
    }
    // Through serviceFile, as `agent install` does: nothing is written.
    assert.throws(() => serviceFile({ platform: 'linux', home, env: {}, uid: 1000, command: [path] }), (e) => isOidcError(e, 'E_CONFIG'));
    assert.throws(() => serviceFile({ platform: 'darwin', home, env: {}, uid: 501, command: [path] }), (e) => isOidcError(e, 'E_CONFIG'));
  }
  assert.ok(!existsSync(join(home, '.config')) && !existsSync(join(home, 'Library')));
});

test('launchd: each hostile path reads back the same from the plist (Python plistlib)', { skip: existsSync(PYTHON) ? false : `${PYTHON} is missing` }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-plist-'));
  for (const [i, name] of [...HOSTILE_NAMES, 'a&b', '<tag>', ']]>', 'x&amp;y'].entries()) {
    const exe = `/Users/me/${name}/kubectl-oidc`;
    const log = `/Users/me/${name}/agent.log`;
    const file = join(dir, `${i}.plist`);
    writeFileSync(file, launchdPlist([exe], log));
    const r = spawnSync(PYTHON, ['-c', 'import plistlib,sys,json; p=plistlib.load(open(sys.argv[1],"rb")); print(json.dumps([p["ProgramArguments"], p["StandardErrorPath"]]))', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [[exe, 'agent', '--idle-timeout=0'], log], name);
  }
});

test('the printed enable command quotes a home with a space or a quote for the shell', async () => {
  for (const home of ["/Users/Jane Doe", "/Users/o'brien"]) {
    const service = serviceFile({ platform: 'darwin', home: join(mkdtempSync(join(tmpdir(), 'ko-home-')), home), env: {}, uid: 501, command: ['/x'] })!;
    let err = '';
    await installAgent({ service, enable: false, run: async () => ({ code: 0, output: '' }), stopRunningAgent: async () => {}, stderr: (s) => (err += s) });
    const cmd = /run: (.*)\n/.exec(err)![1]!;
    const echoed = spawnSync('/bin/sh', ['-c', `set -- ${cmd}; printf '%s\\n' "$@"`], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.deepEqual(echoed, ['launchctl', 'bootstrap', 'gui/501', service.path]);
  }
});
