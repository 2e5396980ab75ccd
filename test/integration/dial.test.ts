import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { dial, transportFor, type Transport } from '../../lib/client/dial.js';
import { ask, isNoAgent } from '../../lib/client/agent-client.js';
import { encodeFrame } from '../../lib/protocol/frames.js';
import { envelope } from '../../lib/protocol/wire.js';
import { execInfo } from '../support/exec-info.js';

/**
 * The client's transports (under Node: libuv's pipe handle and node:net; under Bun: Bun.connect and
 * node:net) against a real node:net server: the same bytes, events and errors from each. The agent's
 * side of it is the e2e suite's; here the edges. This file also runs under Bun (`bun test`), started
 * by the last test below, so that the release executable's transport passes the same tests.
 */
const UNDER_BUN = typeof process.versions.bun === 'string';
const TRANSPORTS: Transport[] = UNDER_BUN ? ['bun', 'net'] : ['pipe', 'net'];
const NODE_ONLY = UNDER_BUN ? 'Node only: under Bun the transport is Bun.connect' : false;

async function serve(onConn: (s: Socket) => void, name = 's.sock'): Promise<{ path: string; server: Server; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ko-dial-'));
  const path = join(dir, name);
  const server = createServer(onConn);
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        rmSync(dir, { recursive: true, force: true });
      }),
  };
}

/** Dial, write, and collect everything until the end. */
function exchange(transport: Transport, path: string, writes: string[]): Promise<{ text: string; err?: NodeJS.ErrnoException; connected: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    let connected = false;
    const conn = dial(path, { connected: () => (connected = true), data: (t) => (text += t), end: (err) => resolve({ text, connected, ...(err ? { err } : {}) }) }, { KUBECTL_OIDC_TRANSPORT: transport });
    for (const w of writes) conn.write(w);
  });
}

for (const transport of TRANSPORTS) {
  test(`${transport}: writes made before the connection is up arrive in order; the reply arrives whole, even split mid-character`, async () => {
    // 1 MiB of reply in 1-byte-to-64-KiB pieces, with multi-byte characters split across pieces.
    const reply = `${'é€😀x'.repeat(80_000)}\n`;
    const bytes = Buffer.from(reply);
    let got = '';
    const srv = await serve((s) => {
      s.on('data', (d) => {
        got += d.toString();
        if (!got.endsWith('\n')) return;
        let at = 0;
        let size = 1;
        const next = () => {
          if (at >= bytes.length) return void s.end();
          const piece = bytes.subarray(at, at + size);
          at += size;
          size = Math.min(size * 3, 65_536);
          s.write(piece, next);
        };
        next();
      });
    });
    try {
      const r = await exchange(transport, srv.path, ['{"a":', '1}', '\n']);
      assert.equal(r.err, undefined);
      assert.ok(r.connected);
      assert.equal(got, '{"a":1}\n');
      assert.equal(r.text.length, reply.length);
      assert.equal(r.text, reply);
    } finally {
      await srv.close();
    }
  });

  test(`${transport}: no socket is ENOENT, a socket file nobody serves is ECONNREFUSED: both mean "no agent"`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ko-dial-'));
    try {
      const missing = await exchange(transport, join(dir, 'none.sock'), ['x\n']);
      assert.equal(missing.err?.code, 'ENOENT');
      assert.ok(isNoAgent(missing.err));
      assert.equal(missing.connected, false);
      // Through ask(), which closes the connection from its end(): the error must not arrive while dial()
      // is still running (Bun reports some inside Bun.connect(); node:net on a later tick).
      await assert.rejects(ask(join(dir, 'none.sock'), { ...envelope(), op: 'ping' }, undefined, 5_000, { KUBECTL_OIDC_TRANSPORT: transport }), { code: 'ENOENT' });
      // A listener that went away leaves its socket file behind.
      const stale = join(dir, 'stale.sock');
      const py = spawnSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)})`]);
      assert.equal(py.status, 0, String(py.stderr));
      const refused = await exchange(transport, stale, ['x\n']);
      assert.equal(refused.err?.code, 'ECONNREFUSED');
      assert.ok(isNoAgent(refused.err));
      // Not a socket at all.
      const file = join(dir, 'file');
      writeFileSync(file, '');
      const notSock = await exchange(transport, file, ['x\n']);
      assert.ok(notSock.err?.code === 'ECONNREFUSED' || notSock.err?.code === 'ENOTSOCK', String(notSock.err?.code));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${transport}: close() ends it quietly, before or after the connection is up; the server sees the close`, async () => {
    let closedAtServer = 0;
    const srv = await serve((s) => {
      s.on('close', () => closedAtServer++);
      s.on('error', () => {});
    });
    try {
      let events = 0;
      const early = dial(srv.path, { connected: () => events++, data: () => events++, end: () => events++ }, { KUBECTL_OIDC_TRANSPORT: transport });
      early.close();
      early.write('ignored\n');
      const late = await new Promise<ReturnType<typeof dial>>((resolve) => {
        const c = dial(srv.path, { connected: () => resolve(c), data: () => events++, end: () => events++ }, { KUBECTL_OIDC_TRANSPORT: transport });
      });
      late.close();
      late.close();
      const deadline = Date.now() + 2_000;
      while (closedAtServer < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(events, 0, 'no event after close()');
      assert.ok(closedAtServer >= 1, 'the server saw the connection end');
    } finally {
      await srv.close();
    }
  });

  test(`${transport}: ask() over it: a notice, a prompt answered on the same connection, then the reply`, async () => {
    const srv = await serve((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const line of lines) {
          const f = JSON.parse(line) as { op?: string; t?: string; value?: string };
          if (f.op === 'ping') s.write(encodeFrame({ t: 'notice', message: 'hello' }) + encodeFrame({ t: 'prompt', id: 1, message: 'code?', secret: false }));
          if (f.t === 'answer') s.end(encodeFrame({ t: 'pong', agent: { pid: 42, version: f.value ?? '' } }));
        }
      });
    });
    try {
      const notices: string[] = [];
      const f = await ask(srv.path, { ...envelope(), op: 'ping' }, { notify: (m) => notices.push(m), prompt: async (m) => `answered ${m}` }, 5_000, { KUBECTL_OIDC_TRANSPORT: transport });
      assert.deepEqual(notices, ['hello']);
      assert.equal(f.t, 'pong');
      assert.equal(f.t === 'pong' && f.agent.version, 'answered code?');
    } finally {
      await srv.close();
    }
  });

  test(`${transport}: ask() against a server that closes without an answer, or sends garbage, fails clearly`, async () => {
    const srvState = { garbage: false };
    const srv = await serve((s) => {
      s.once('data', () => s.end(srvState.garbage ? 'not json\n' : ''));
    });
    try {
      await assert.rejects(ask(srv.path, { ...envelope(), op: 'ping' }, undefined, 5_000, { KUBECTL_OIDC_TRANSPORT: transport }), /closed the connection without an answer/);
      srvState.garbage = true;
      await assert.rejects(ask(srv.path, { ...envelope(), op: 'ping' }, undefined, 5_000, { KUBECTL_OIDC_TRANSPORT: transport }), /not valid JSON/);
    } finally {
      await srv.close();
    }
  });
}

test('the pipe transport is the default on POSIX; net where process.binding would warn, or when asked', { skip: NODE_ONLY }, () => {
  const posix = process.platform !== 'win32';
  assert.equal(transportFor({}), posix ? 'pipe' : 'net');
  assert.equal(transportFor({ KUBECTL_OIDC_TRANSPORT: 'net' }), 'net');
  assert.equal(transportFor({ NODE_OPTIONS: '--max-old-space-size=100 --pending-deprecation' }), 'net');
  assert.equal(transportFor({ NODE_PENDING_DEPRECATION: '1' }), 'net');
  assert.equal(transportFor({ NODE_OPTIONS: '--pending-deprecations-are-not-a-flag' }), posix ? 'pipe' : 'net');
});

test('get-token loads neither node:net nor node:tty: each costs ~4 ms of every kubectl command', { skip: NODE_ONLY }, async () => {
  // The built entry, run for real against a stand-in agent; the modules it loaded are read when it exits.
  const dir = mkdtempSync(join(tmpdir(), 'ko-dial-'));
  const srv = await serve((c) => c.once('data', () => c.end(encodeFrame({ t: 'token', token: 'a.b.c', expiresAt: 2e9 }))), 'agent.sock');
  try {
    const script = join(dir, 'probe.cjs');
    writeFileSync(
      script,
      `const seen = new Set(process.moduleLoadList);
       process.argv = [process.argv[0], 'kubectl-oidc', 'get-token', '--oidc-issuer-url=https://issuer.invalid', '--oidc-client-id=x'];
       process.exit = (code) => {
         const extra = process.moduleLoadList.filter((m) => !seen.has(m)).map((m) => m.replace(/^NativeModule /, ''));
         require('node:fs').writeSync(2, JSON.stringify({ code, extra }) + '\\n');
         process.reallyExit(code ?? 0);
       };
       require(${JSON.stringify(join(process.cwd(), 'dist/kubectl-oidc.cjs'))});`,
    );
    chmodSync(dirname(srv.path), 0o700);
    /** The modules loaded beyond Node's own start-up, and what was printed. */
    const run = async (transport?: Transport) => {
      const env: Record<string, string | undefined> = { ...process.env, HOME: dir, XDG_STATE_HOME: dir, XDG_CACHE_HOME: dir, KUBECTL_OIDC_RUNTIME_DIR: dirname(srv.path), ...execInfo(false) };
      delete env.KUBECTL_OIDC_TRANSPORT;
      if (transport) env.KUBECTL_OIDC_TRANSPORT = transport;
      const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      await new Promise((r) => child.once('close', r));
      const last = err.trim().split('\n').pop()!;
      assert.ok(last.startsWith('{'), err);
      const report = JSON.parse(last) as { code: number; extra: string[] };
      assert.equal(report.code, 0, err);
      assert.match(out, /"token":"a\.b\.c"/);
      return report.extra;
    };
    const extra = await run();
    assert.deepEqual(extra.filter((m) => /^(net|tty|stream|child_process)$/.test(m)), [], `loaded: ${extra.join(' ')}`);
    assert.ok(extra.length < 12, `get-token loaded ${extra.length} modules: ${extra.join(' ')}`);
    // The control: the same probe sees node:net when the net transport is asked for.
    assert.ok((await run('net')).includes('net'));
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('under Bun, Bun.connect is the transport (net when asked), and it passes the tests above', { skip: UNDER_BUN ? 'this is the run under Bun' : false, timeout: 120_000 }, () => {
  const bun = join(process.cwd(), 'node_modules/.bin/bun');
  const file = fileURLToPath(import.meta.url);
  const r = spawnSync(bun, ['test', '--timeout=60000', file], { encoding: 'utf8', env: { ...process.env, KUBECTL_OIDC_TRANSPORT: '' } });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stderr, /\b0 fail\b/);
  assert.match(r.stderr, /bun: writes made before the connection is up/);
});

test('Bun.connect is chosen under Bun only, and never on Windows', { skip: UNDER_BUN ? false : 'under Node: see the test above' }, () => {
  assert.equal(transportFor({}), process.platform === 'win32' ? 'net' : 'bun');
  assert.equal(transportFor({ KUBECTL_OIDC_TRANSPORT: 'net' }), 'net');
  assert.equal(transportFor({ KUBECTL_OIDC_TRANSPORT: 'pipe' }), process.platform === 'win32' ? 'net' : 'bun');
});
