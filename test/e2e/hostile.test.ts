/**
 * Issue 11: hostile clients and hostile files must not keep the agent from serving valid get-token
 * requests. Gap 2: a flood of connections and slow-loris clients on the socket are dropped. Gap 1:
 * a CA path that is a FIFO or a device fails that request only. Real sockets against a real agent,
 * started by get-token as a user's kubectl would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createWorld, requireTools, agentLog, type World } from './world.js';
import type { KubectlResult } from '../rig/apiserver.js';
import { PROTOCOL_VERSION } from '../../lib/protocol.js';
import { VERSION } from '../../lib/version.js';
import { MAX_PENDING_CONNECTIONS, REQUEST_DEADLINE_MS } from '../../lib/agent/server.js';

const skip = requireTools();
const sockPath = (w: World) => join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.sock');
const agentPid = (w: World): number => JSON.parse(readFileSync(join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.json'), 'utf8')).pid;

function assertToken(r: KubectlResult) {
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).kind, 'ExecCredential');
  assert.equal(r.stderr, '', 'no fallback, no warning');
}

/** A connection the test holds open; `closedAt` is set when the agent hangs up. */
interface Held {
  sock: Socket;
  openedAt: number;
  closedAt?: number;
}
function hold(path: string): Promise<Held> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const h: Held = { sock, openedAt: Date.now() };
    sock.on('close', () => (h.closedAt ??= Date.now()));
    sock.on('error', () => {});
    sock.once('connect', () => resolve(h));
    sock.once('error', reject);
  });
}

test('hostile clients: a connection flood, slow-loris clients, CA paths that block', { skip, timeout: 120_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const getToken = () => w.plugin(['get-token', ...w.tokenArgs]);
  const first = await getToken(); // logs in (the browser driver), starts the agent
  assert.equal(first.code, 0, first.stderr);
  const pid = agentPid(w);

  await t.test('1,000 idle connections: valid get-token is still served promptly; the agent drops the excess', async () => {
    const flood: Held[] = [];
    for (let i = 0; i < 1000; i += 100) flood.push(...(await Promise.all(Array.from({ length: 100 }, () => hold(sockPath(w))))));
    // half a request on some, nothing on the others
    for (const h of flood.slice(0, 500)) h.sock.write('{"op":"tok');
    const started = Date.now();
    const r = await getToken();
    const ms = Date.now() - started;
    assertToken(r);
    t.diagnostic(`get-token during the flood: ${ms} ms`);
    assert.ok(ms < 5_000, `get-token took ${ms} ms during the flood`);
    // Over the cap, the oldest connections that sent no request are dropped within about a second.
    const end = Date.now() + 4_000;
    while (Date.now() < end && flood.filter((h) => h.closedAt === undefined).length > MAX_PENDING_CONNECTIONS) await sleep(50);
    const open = flood.filter((h) => h.closedAt === undefined).length;
    assert.ok(open <= MAX_PENDING_CONNECTIONS, `${open} idle connections still open (cap ${MAX_PENDING_CONNECTIONS})`);
    const earliest = Math.min(...flood.filter((h) => h.closedAt !== undefined).map((h) => h.closedAt! - h.openedAt));
    assert.ok(earliest < REQUEST_DEADLINE_MS, 'dropped for the cap, before the deadline');
    assertToken(await getToken());
    for (const h of flood) h.sock.destroy();
    assert.equal(agentPid(w), pid);
  });

  await t.test('slow-loris: a client sending one byte every 300 ms is dropped at the deadline; others are served meanwhile', async () => {
    const request = `${JSON.stringify({ op: 'ping', v: PROTOCOL_VERSION, version: VERSION, pad: 'x'.repeat(200) })}\n`;
    const lorises = await Promise.all(Array.from({ length: 5 }, () => hold(sockPath(w))));
    const timers = lorises.map((h) => {
      let i = 0;
      const timer = setInterval(() => {
        if (h.closedAt !== undefined || i >= request.length) return clearInterval(timer);
        h.sock.write(request[i++]!);
      }, 300);
      return timer;
    });
    try {
      await sleep(1_000);
      const started = Date.now();
      assertToken(await getToken());
      assert.ok(Date.now() - started < 5_000);
      const end = Date.now() + REQUEST_DEADLINE_MS + 5_000;
      while (Date.now() < end && lorises.some((h) => h.closedAt === undefined)) await sleep(100);
      for (const h of lorises) {
        assert.ok(h.closedAt !== undefined, 'the slow client was dropped');
        const lived = h.closedAt - h.openedAt;
        assert.ok(lived >= REQUEST_DEADLINE_MS - 200 && lived < REQUEST_DEADLINE_MS + 3_000, `dropped after ${lived} ms`);
      }
    } finally {
      for (const tm of timers) clearInterval(tm);
      for (const h of lorises) h.sock.destroy();
    }
    assertToken(await getToken());
    assert.equal(agentPid(w), pid);
    assert.ok(agentLog(w).split('\n').length < 200, 'the agent log does not get a line per dropped connection');
  });

  await t.test('a CA path that is a FIFO or /dev/zero fails that request at once; the agent keeps serving others', async () => {
    const fifo = join(w.dir, 'ca.fifo');
    execFileSync('mkfifo', [fifo]);
    // A writer after 15 s, so that an agent that blocks on the FIFO (the bug) is freed eventually.
    spawn('/bin/sh', ['-c', 'sleep 15; exec 3>"$1"; sleep 1', 'sh', fifo], { stdio: 'ignore' }).unref();
    const args = w.tokenArgs.map((a) => (a.startsWith('--certificate-authority=') ? `--certificate-authority=${fifo}` : a));
    const started = Date.now();
    const [bad, zero, good] = await Promise.all([
      w.plugin(['get-token', ...args], { timeoutMs: 30_000 }),
      w.plugin(['get-token', ...w.tokenArgs.map((a) => (a.startsWith('--certificate-authority=') ? '--certificate-authority=/dev/zero' : a))], { timeoutMs: 30_000 }),
      (async () => {
        await sleep(300); // after the bad ones reached the agent
        const s = Date.now();
        const r = await getToken();
        return { r, ms: Date.now() - s };
      })(),
    ]);
    assertToken(good.r);
    t.diagnostic(`valid get-token next to the FIFO: ${good.ms} ms; the FIFO request failed after ${Date.now() - started} ms`);
    assert.ok(good.ms < 5_000, `valid get-token took ${good.ms} ms`);
    for (const [r, what] of [[bad, 'a FIFO'], [zero, 'a character device']] as const) {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`kubectl-oidc: --certificate-authority .* is not a regular file \\(${what}\\); refusing to read it`));
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
    assert.equal(agentPid(w), pid);
  });
});
