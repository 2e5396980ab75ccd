/**
 * The linux/arm64 release executable under qemu (Debian qemu-user-static, with the arm64 C runtime of
 * libc6-arm64-cross): a real login through kubectl against the rig issuer, served by an arm64 agent, then
 * a warm get-token from that agent with no second login.
 * Who starts the agent: get-token spawns `<itself> agent --daemon`, and the kernel runs an arm64 file only
 * when binfmt_misc has qemu registered (a Debian machine with qemu-user-static and systemd-binfmt does).
 * Without it (a container), the test starts the same executable's agent under qemu itself and says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorld, requireTools, agentPid, agentLog, alive, execInfo } from '../e2e/world.js';
import { releaseExecutable, releaseMissing, VERSION } from '../dist/release.js';

const ARM64_LIBS = '/usr/aarch64-linux-gnu';
const EXE = releaseExecutable('linux', 'arm64');

function qemuMissing(): string | undefined {
  const missing = [];
  if (spawnSync('qemu-aarch64-static', ['--version']).status !== 0) missing.push('qemu-aarch64-static (Debian: qemu-user-static)');
  if (!existsSync(join(ARM64_LIBS, 'lib/ld-linux-aarch64.so.1'))) missing.push('the arm64 C runtime (Debian: libc6-arm64-cross)');
  if (missing.length === 0) return undefined;
  const why = `missing ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

const skip = requireTools() ?? releaseMissing() ?? qemuMissing() ?? (existsSync(EXE) ? undefined : `no ${EXE}: the test release has no linux/arm64`);
const binfmt = existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64');

test('linux/arm64 under qemu: a real login through kubectl, then a warm get-token from its own agent', { skip, timeout: 600_000 }, async (t) => {
  // kubectl execs this wrapper: the arm64 executable under qemu, arguments untouched.
  const dir = mkdtempSync(join(tmpdir(), 'ko-arm64-'));
  const wrapper = join(dir, 'kubectl-oidc');
  writeFileSync(wrapper, `#!/bin/sh\nexec qemu-aarch64-static -L ${ARM64_LIBS} ${EXE} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const w = await createWorld({ plugin: wrapper });
  t.after(() => w.close());

  const version = await w.plugin(['--version'], { timeoutMs: 120_000 });
  assert.equal(version.stdout, `kubectl-oidc ${VERSION}\n`, version.stderr);

  let agent: ReturnType<typeof spawn> | undefined;
  if (!binfmt) {
    t.diagnostic('no binfmt_misc entry for qemu-aarch64 here: the test starts the arm64 agent under qemu itself');
    agent = spawn('qemu-aarch64-static', ['-L', ARM64_LIBS, EXE, 'agent', '--idle-timeout=10m'], { env: { ...process.env, ...w.env }, stdio: 'ignore' });
    t.after(() => agent?.kill('SIGTERM'));
    const until = Date.now() + 120_000;
    while (agentPid(w) === undefined) {
      assert.ok(Date.now() < until, `the arm64 agent did not start: ${agentLog(w)}`);
      assert.equal(agent.exitCode, null, `the arm64 agent exited ${agent.exitCode}: ${agentLog(w)}`);
      await sleep(100);
    }
  }

  const first = await w.kubectl(['auth', 'whoami'], { timeoutMs: 300_000 });
  assert.equal(first.code, 0, `${first.stderr}\n${agentLog(w)}`);
  assert.match(first.stdout, /alice@example\.com/);
  assert.doesNotMatch(first.stderr, /without|in-process|internal error/i, 'no fallback to in-process work');
  const pid = agentPid(w);
  assert.ok(pid !== undefined && alive(pid), `an agent is running: ${agentLog(w)}`);
  // The agent is the arm64 executable (under qemu, /proc/<pid>/exe is qemu; its argv names the executable).
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  assert.ok(argv.includes(EXE), `the agent runs ${EXE}: ${argv.join(' ')}`);
  assert.equal(await w.launches(), 1, 'one browser login');

  const warm = await w.plugin(['get-token', ...w.tokenArgs], { env: execInfo(false), timeoutMs: 120_000 });
  assert.equal(warm.code, 0, warm.stderr);
  assert.equal(warm.stderr, '');
  assert.match(JSON.parse(warm.stdout).status.token, /^eyJ/);
  assert.equal(await w.launches(), 1, 'the warm get-token needed no second login');
  assert.equal(agentPid(w), pid, 'the same agent served it');
});
