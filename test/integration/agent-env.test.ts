import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { agentEnv } from '../../lib/client/agent-client.js';
import { AGENT_MALLOC_ENV } from '../../lib/runtime.js';
import { tuneHeap } from '../../lib/agent/heap.js';

const HEAP = fileURLToPath(new URL('../../lib/agent/heap.js', import.meta.url));

test("the agent starts without NODE_EXTRA_CA_CERTS (it reads the caller's itself), with the caller's NODE_OPTIONS, and glibc's trim threshold", () => {
  const env = { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', NODE_OPTIONS: '--max-old-space-size=4096', HOME: '/h' };
  assert.deepEqual(agentEnv(env), { NODE_OPTIONS: '--max-old-space-size=4096', HOME: '/h', MALLOC_TRIM_THRESHOLD_: '131072' });
  assert.equal(env.NODE_EXTRA_CA_CERTS, '/etc/ssl/corp.pem', 'the caller env is not changed');
  assert.equal(agentEnv({ MALLOC_TRIM_THRESHOLD_: '0' }).MALLOC_TRIM_THRESHOLD_, '0', "the user's own setting is kept");
});

test('tuneHeap takes our glibc setting out of the env the agent passes on, not a different one of the user', () => {
  const ours = { ...AGENT_MALLOC_ENV, HOME: '/h' };
  tuneHeap(ours);
  assert.deepEqual(ours, { HOME: '/h' });
  const theirs = { MALLOC_TRIM_THRESHOLD_: '0' };
  tuneHeap(theirs);
  assert.deepEqual(theirs, { MALLOC_TRIM_THRESHOLD_: '0' });
});

/** New-space size after an allocation burst in a fresh node, with and without the agent's heap settings. */
function newSpaceMiB(tune: boolean): number {
  const script = `
    const { tuneHeap } = await import(${JSON.stringify(HEAP)});
    if (${tune}) tuneHeap();
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 100000) keep = []; }
    const v8 = await import('node:v8');
    const ns = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(ns.space_size / 1048576));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout);
}

test('tuneHeap, set at run time, keeps the new space from growing under an allocation burst', () => {
  const grown = newSpaceMiB(false);
  const tuned = newSpaceMiB(true);
  assert.ok(grown >= 8, `control: without the settings the new space grows (${grown} MiB)`);
  assert.ok(tuned <= 4, `with them it stays small (${tuned} MiB)`);
});
