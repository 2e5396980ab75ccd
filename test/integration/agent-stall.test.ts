/**
 * The agent drops connections that waited over PENDING_GRACE_MS without a request while more than
 * MAX_PENDING_CONNECTIONS wait (a flood). Time in which the agent's own loop did not run (a CPU-starved
 * machine, a stopped process, a long collection) is not waiting: the requests sent meanwhile sit unread
 * in the kernel's buffers. The real server on a real socket, its clients in another process, its loop
 * blocked for 1.3 s while 300 accepted connections have not been read yet. Before the fix, the first
 * sweep after the block dropped all but 128 of them (CI saw 500 failures in the load test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { startAgent, MAX_PENDING_CONNECTIONS } from '../../lib/agent/server.js';
import type { Registry } from '../../lib/agent/registry.js';
import { silentLogger } from '../../lib/log.js';
import { encodeFrame } from '../../lib/protocol/frames.js';
import { envelope } from '../../lib/protocol/wire.js';

const CLIENTS = 400;
const BLOCK_AT = 300;

/** Opens every connection in one synchronous loop, then writes a ping on each; prints what came back. */
const CLIENT = `
const { connect } = require('node:net');
const [sock, frame, n] = process.argv.slice(1);
let pongs = 0, failures = 0, first;
let left = Number(n);
const done = () => { if (--left === 0) console.log(JSON.stringify({ pongs, failures, first })); };
for (let i = 0; i < Number(n); i++) {
  const s = connect(sock);
  let buf = '', settled = false;
  const end = (ok, why) => { if (settled) return; settled = true; ok ? pongs++ : (failures++, first ??= why); s.destroy(); done(); };
  s.setEncoding('utf8');
  s.on('connect', () => s.write(frame));
  s.on('data', (d) => { buf += d; if (buf.includes('\\n')) end(/"t":"pong"/.test(buf), buf.slice(0, 80)); });
  s.on('error', (e) => end(false, e.code));
  s.on('close', () => end(false, 'closed'));
}
`;

test(`a loop blocked for 1.3 s with ${BLOCK_AT} connections accepted and unread: none of them is dropped`, { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-stall-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'run', 'agent.sock');
  const registry = { close: async () => {}, busy: () => false } as unknown as Registry;
  const r = await startAgent({ socketPath, registry, log: silentLogger, idleTimeoutMs: 0 });
  assert.ok(r.started);
  t.after(() => r.agent.stop('test over'));
  let accepted = 0;
  r.agent.server.on('connection', () => {
    if (++accepted !== BLOCK_AT) return;
    const until = Date.now() + 1_300;
    while (Date.now() < until); // the whole process stops here, as a starved or stopped one would
  });
  const child = spawn(process.execPath, ['-e', CLIENT, socketPath, encodeFrame({ ...envelope(), op: 'ping' }), String(CLIENTS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((resolve) => child.on('close', resolve));
  const res = JSON.parse(out) as { pongs: number; failures: number; first?: string };
  t.diagnostic(`${accepted} accepted; ${res.pongs} pongs, ${res.failures} failures (first: ${res.first ?? 'none'})`);
  assert.ok(accepted >= BLOCK_AT, `the loop was blocked (${accepted} connections accepted)`);
  assert.ok(BLOCK_AT > MAX_PENDING_CONNECTIONS, 'enough connections waited to start the sweeps');
  assert.equal(res.failures, 0, `no valid client dropped (first: ${res.first})`);
  assert.equal(res.pongs, CLIENTS);
});
