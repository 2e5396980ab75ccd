/**
 * `kubectl oidc agent install|uninstall`: the unit it writes passes `systemd-analyze verify`, the agent
 * runs from the unit's ExecStart line, and the shipped templates say the same as the command writes.
 * Runs against the built entry (node dist/kubectl-oidc.cjs) and, when the test release is there, the
 * single executable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, mkdirSync as mkdir } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ENTRY, ROOT, run } from '../e2e/world.js';
import { SYSTEMD_UNIT, commandLine, launchdPlist, serviceFile, systemdUnit, installAgent, uninstallAgent } from '../../lib/commands/agent-install.js';
import { RELEASE_DIR, releaseMissing } from './release.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

/** ExecStart= split the way systemd does for what we write (plain words and double-quoted ones). */
function execStart(unit: string): string[] {
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  assert.ok(line, 'the unit has an ExecStart line');
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replace(/%%/g, '%').replace(/\$\$/g, '$'));
}

function world() {
  const dir = mkdtempSync(join(tmpdir(), 'ko-unit-'));
  const home = join(dir, 'home');
  mkdirSync(home, { mode: 0o700 });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_STATE_HOME: join(home, '.local/state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    KUBECTL_OIDC_RUNTIME_DIR: join(dir, 'run'),
    DBUS_SESSION_BUS_ADDRESS: 'disabled:',
  };
  return { dir, env, unitPath: join(home, '.config/systemd/user', SYSTEMD_UNIT) };
}

/** Install with a command, verify the unit, run its ExecStart, see the agent answer, stop it, uninstall. */
async function installVerifyRun(t: { skip(m: string): void }, plugin: string[]): Promise<void> {
  const w = world();
  try {
    const inst = await run(plugin[0]!, [...plugin.slice(1), 'agent', 'install', '--no-enable'], w.env, 30_000);
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stderr, /wrote .*kubectl-oidc-agent\.service/);
    assert.match(inst.stderr, /systemctl --user daemon-reload && systemctl --user enable --now kubectl-oidc-agent\.service/);
    const unit = readFileSync(w.unitPath, 'utf8');
    const argv = execStart(unit);
    assert.deepEqual(argv.slice(-2), ['agent', '--idle-timeout=0']);

    if (existsSync(SYSTEMD_ANALYZE)) {
      // A user unit needs a runtime dir to be verified in (there is no user session here).
      const rt = join(w.dir, 'xdg-runtime');
      mkdir(rt, { mode: 0o700 });
      const v = spawnSync(SYSTEMD_ANALYZE, ['--user', 'verify', w.unitPath], { encoding: 'utf8', env: { ...w.env, XDG_RUNTIME_DIR: rt }, timeout: 30_000 });
      assert.equal(v.status, 0, `systemd-analyze verify: ${v.stderr}`);
      assert.equal(v.stderr.trim(), '', 'no warnings either');
    } else {
      t.skip(`${SYSTEMD_ANALYZE} is missing: the unit is not verified`);
    }

    // The agent as systemd would start it: the ExecStart argv, no terminal.
    const agent = spawn(argv[0]!, argv.slice(1), { env: w.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (d) => (log += d));
    try {
      const sock = join(w.env.KUBECTL_OIDC_RUNTIME_DIR, 'agent.sock');
      for (let i = 0; i < 200 && !existsSync(sock); i++) await sleep(25);
      const status = await run(plugin[0]!, [...plugin.slice(1), 'agent', 'status'], w.env, 10_000);
      assert.match(status.stdout, new RegExp(`agent: running, pid ${agent.pid}`), `${status.stdout}${status.stderr}\nagent log: ${log}`);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    }

    const un = await run(plugin[0]!, [...plugin.slice(1), 'agent', 'uninstall', '--no-enable'], w.env, 30_000);
    assert.equal(un.code, 0, un.stderr);
    assert.ok(!existsSync(w.unitPath), 'uninstall removes the unit');
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
}

test('agent install (npm entry): a unit that systemd-analyze accepts, whose ExecStart runs the agent', async (t) => {
  await installVerifyRun(t, [process.execPath, ENTRY]);
});

test('agent install (single executable): ExecStart is the executable itself', { skip: releaseMissing() }, async (t) => {
  const exe = join(RELEASE_DIR, '..', 'release', 'linux_amd64', 'kubectl-oidc');
  if (!existsSync(exe)) return t.skip(`no ${exe}`);
  await installVerifyRun(t, [exe]);
});

test('agent install when systemctl cannot reach a user manager: the file is written, the failure said in one place', async () => {
  const w = world();
  try {
    const service = serviceFile({ platform: 'linux', home: w.env.HOME, env: w.env, uid: 1000, command: ['/opt/kubectl-oidc'] })!;
    let err = '';
    const code = await installAgent({
      service,
      enable: true,
      run: async () => ({ code: 1, output: 'Failed to connect to bus: No medium found\n' }),
      stopRunningAgent: async () => {},
      stderr: (s) => (err += s),
    });
    assert.equal(code, 1);
    assert.ok(existsSync(service.path));
    assert.match(err, /could not enable it: `systemctl --user daemon-reload` failed: Failed to connect to bus: No medium found/);
    assert.match(err, /run: systemctl --user daemon-reload && systemctl --user enable --now kubectl-oidc-agent\.service/);
    const calls: string[] = [];
    const ok = await installAgent({ service, enable: true, run: async (c, a) => (calls.push([c, ...a].join(' ')), { code: 0, output: '' }), stopRunningAgent: async () => {}, stderr: () => {} });
    assert.equal(ok, 0);
    assert.deepEqual(calls, ['systemctl --user daemon-reload', 'systemctl --user enable --now kubectl-oidc-agent.service']);
    assert.equal(await uninstallAgent({ service, enable: false, run: async () => ({ code: 0, output: '' }), stderr: () => {} }), 0);
    assert.ok(!existsSync(service.path));
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test('the unit quotes what systemd would expand; the launchd plist escapes XML', () => {
  const argv = execStart(systemdUnit(['/home/a b/100%/$x/kubectl-oidc']));
  assert.deepEqual(argv, ['/home/a b/100%/$x/kubectl-oidc', 'agent', '--idle-timeout=0']);
  assert.match(launchdPlist(['/Users/a&b/kubectl-oidc'], '/tmp/l'), /<string>\/Users\/a&amp;b\/kubectl-oidc<\/string>/);
  const mac = serviceFile({ platform: 'darwin', home: '/Users/a', env: {}, uid: 501, command: ['/x'] })!;
  assert.equal(mac.path, '/Users/a/Library/LaunchAgents/kubectl-oidc.agent.plist');
  assert.deepEqual(mac.enable.at(-1), ['launchctl', 'bootstrap', 'gui/501', mac.path]);
  assert.equal(serviceFile({ platform: 'win32', home: 'C:\\', env: {}, uid: undefined, command: ['x'] }), undefined);
});

test('the command line: the krew link on PATH for the single executable, node and the entry for npm', () => {
  const base = { execPath: '/usr/bin/node', argv0: 'node', entry: '/usr/local/bin/kubectl-oidc', env: { PATH: '/nonexistent' }, cwd: '/' };
  assert.deepEqual(commandLine({ ...base, isSea: false }), ['/usr/bin/node', '/usr/local/bin/kubectl-oidc']);
  // argv0 with a slash that exists and is executable wins over the resolved executable.
  assert.deepEqual(commandLine({ ...base, isSea: true, execPath: '/real/kubectl-oidc', argv0: '/bin/sh' }), ['/bin/sh']);
  assert.deepEqual(commandLine({ ...base, isSea: true, execPath: '/real/kubectl-oidc', argv0: 'kubectl-oidc' }), ['/real/kubectl-oidc']);
});

test('plugin-manifest/ holds the unit and the plist that the command writes', () => {
  const unit = readFileSync(join(ROOT, 'plugin-manifest/kubectl-oidc-agent.service'), 'utf8');
  const body = unit.replace(/^#.*\n/gm, '').replace(/^\n+/, '');
  assert.equal(body, systemdUnit(['/KO']).replace('ExecStart=/KO', 'ExecStart=%h/.krew/bin/kubectl-oidc').replace(/^#.*\n/gm, ''));
  const plist = readFileSync(join(ROOT, 'plugin-manifest/kubectl-oidc.agent.plist'), 'utf8').replace(/<!--[\s\S]*?-->\n/, '');
  assert.equal(plist, launchdPlist(['/usr/local/bin/kubectl-oidc'], '/Users/YOU/Library/Logs/kubectl-oidc/agent.log'));
});
