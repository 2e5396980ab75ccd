/**
 * The release executable (scripts/bun-compile.mjs, Bun) is its own agent: kubectl runs it, it starts
 * `<itself> agent --daemon`, and later runs are served by that agent. Before lib/runtime.ts, the
 * compiled executable's agent spawn failed (`import('node:sea')` does not exist under Bun) and every
 * get-token quietly fell back to in-process work: this test looks for the spawned process itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readlinkSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createWorld, requireTools, agentPid, alive, agentLog, ROOT } from './world.js';

const skip = requireTools();
const HOST = `bun-${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;

test('the compiled executable logs in through kubectl and serves later runs from an agent it spawned', { skip, timeout: 180_000 }, async (t) => {
  const { compile } = (await import(pathToFileURL(join(ROOT, 'scripts/bun-compile.mjs')).href)) as { compile(o: { target: string; outfile: string }): Promise<{ outfile: string }> };
  const binDir = mkdtempSync(join(tmpdir(), 'ko-compiled-'));
  t.after(() => rmSync(binDir, { recursive: true, force: true }));
  const { outfile } = await compile({ target: HOST, outfile: join(binDir, 'kubectl-oidc') });
  const w = await createWorld({ plugin: outfile });
  t.after(() => w.close());

  const first = await w.kubectl(['auth', 'whoami']);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /alice@example\.com/);
  assert.doesNotMatch(first.stderr, /without|in-process|internal error/i, 'no fallback to in-process work');
  const pid = agentPid(w);
  assert.ok(pid !== undefined && alive(pid), `an agent is running: ${agentLog(w)}`);
  assert.notEqual(pid, process.pid);
  if (process.platform === 'linux') {
    assert.equal(readlinkSync(`/proc/${pid}/exe`), outfile, 'the agent is the compiled executable itself');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(argv.slice(-2), ['agent', '--daemon']);
  }

  const second = await w.kubectl(['auth', 'whoami']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stderr, '');
  assert.equal(await w.launches(), 1, 'one login');
  assert.equal(agentPid(w), pid, 'the same agent served the second run');

  // No keyring.node beside this executable: the keyring is absent, said once, and logout still completes
  // (Bun's require() kept the shim's failed module and the second load got an empty object).
  const out = await w.plugin(['logout', ...w.tokenArgs]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /logged out/);
  assert.match(out.stderr, /keyring module does not load/);
});
