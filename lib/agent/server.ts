import { createServer, type Server, type Socket } from 'node:net';
import { writeFileSync, unlinkSync, renameSync } from 'node:fs';
import { join, dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { OidcError, isOidcError } from '../errors.js';
import type { Logger } from '../log.js';
import { FrameReader, encodeFrame, errorFrame } from '../protocol/frames.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { Caller, Frame } from '../protocol/wire.js';
import { ensurePrivateDir } from '../paths.js';
import { probeSocket } from '../socket.js';
import { VERSION } from '../version.js';
import { handleRequest, type HandlerContext } from './handler.js';
import { fullCollector } from './heap.js';
import type { Registry } from './registry.js';
import { parseAnswer, parseRequest, type ParsedRequest } from './request.js';

/**
 * A connection must deliver its whole request within this time of being accepted, however it
 * trickles in (a client sends it at once: it is one write of a few KiB). An idle timeout would be
 * reset by every byte, so a client sending one byte every few hundred ms would stay forever.
 */
export const REQUEST_DEADLINE_MS = 5_000;
/**
 * Connections that have not yet sent their request, above which the oldest ones are dropped. Each
 * may hold a partial frame (up to MAX_FRAME_BYTES), so this bounds the memory a flood can take.
 * Requests being served are not counted: 500 kubectl processes waiting on one refresh are valid.
 */
export const MAX_PENDING_CONNECTIONS = 128;
/**
 * Over the cap, a connection is dropped only once it has been waiting this long: a burst of valid
 * clients is accepted all at once, before any of their requests is read, and must not be cut off.
 */
export const PENDING_GRACE_MS = 1_000;
/** How often waiting connections are checked while over the cap. */
const SWEEP_INTERVAL_MS = 100;
/** A ceiling on all connections at once (Node refuses more at accept): file descriptors are finite. */
const MAX_CONNECTIONS = 4_096;

export interface AgentOptions {
  socketPath: string;
  registry: Registry;
  log: Logger;
  /** Exit after this long without a request (and nothing in flight). 0 disables. */
  idleTimeoutMs: number;
  /** A client that has not sent its whole request this long after connecting is dropped (REQUEST_DEADLINE_MS). */
  requestTimeoutMs?: number;
  /** Connections without a request yet, above which the oldest are dropped (MAX_PENDING_CONNECTIONS). */
  maxPendingConnections?: number;
}

export interface RunningAgent {
  server: Server;
  /** Resolves when the agent has stopped (idle, signal or a stop request). */
  closed: Promise<void>;
  stop(reason: string): Promise<void>;
}

export type StartResult = { started: true; agent: RunningAgent } | { started: false; reason: string };

/**
 * Start the agent unless one already answers on the socket. Two agents starting at once end with
 * one: the start lock serialises them, and a socket file is removed only after a refused probe.
 */
export async function startAgent(opts: AgentOptions): Promise<StartResult> {
  const dir = dirname(opts.socketPath);
  ensurePrivateDir(dir);
  const release = await lockfile
    .lock(dir, { lockfilePath: join(dir, 'agent.start.lock'), realpath: false, stale: 10_000, retries: { retries: 40, minTimeout: 50, maxTimeout: 250 } })
    .catch((err: Error) => {
      throw new OidcError('E_AGENT', `cannot take the agent start lock in ${dir}: ${err.message}`, { cause: err });
    });
  try {
    const probe = await probeSocket(opts.socketPath);
    if (probe === 'alive') return { started: false, reason: 'another agent is already running' };
    if (probe === 'stale') {
      opts.log.info(`removing stale socket ${opts.socketPath}`);
      try {
        unlinkSync(opts.socketPath);
      } catch {}
    }
    const agent = await listen(opts);
    writeState(dir);
    return { started: true, agent };
  } finally {
    await release().catch(() => {});
  }
}

function writeState(dir: string): void {
  const file = join(dir, 'agent.json');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, version: VERSION, protocol: PROTOCOL_VERSION, startedAt: new Date().toISOString() }), { mode: 0o600 });
  renameSync(tmp, file);
}

/** Connections since the last collection that make the next quiet second worth a full collection. */
const COLLECT_AFTER_CONNECTIONS = 1_000;

async function listen(opts: AgentOptions): Promise<RunningAgent> {
  const { log, registry } = opts;
  const sockets = new Set<Socket>();
  let lastActivity = Date.now();
  let inFlight = 0;
  let stopping: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const deadlineMs = opts.requestTimeoutMs ?? REQUEST_DEADLINE_MS;
  const maxPending = opts.maxPendingConnections ?? MAX_PENDING_CONNECTIONS;
  /** Connections that have not delivered a request, oldest first, with when they were accepted. */
  const pending = new Map<Socket, number>();
  let sweeper: NodeJS.Timeout | undefined;
  let lastSweep = 0;
  let dropped = 0;
  const sweep = () => {
    const now = Date.now();
    // A late tick means this process did not run (a CPU-starved machine, a stopped process), and the
    // requests sent meanwhile are still unread in the kernel's buffers: that time is not waiting. It
    // is forgiven, and this tick drops nothing, so the requests are read before the next one.
    const lag = now - lastSweep - SWEEP_INTERVAL_MS;
    lastSweep = now;
    if (lag > SWEEP_INTERVAL_MS) {
      for (const [sock, since] of pending) pending.set(sock, since + lag);
      return;
    }
    const tooOld = now - PENDING_GRACE_MS;
    for (const [sock, since] of pending) {
      if (pending.size <= maxPending || since > tooOld) break;
      pending.delete(sock);
      sock.destroy();
      dropped++;
    }
    if (pending.size <= maxPending) {
      clearInterval(sweeper);
      sweeper = undefined;
      // One line per flood, not one per connection.
      log.info(`dropped ${dropped} connections that sent no request while more than ${maxPending} were waiting`);
      dropped = 0;
    }
  };

  const server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    pending.set(sock, Date.now());
    sock.on('close', () => {
      sockets.delete(sock);
      pending.delete(sock);
    });
    if (pending.size > maxPending && !sweeper) {
      lastSweep = Date.now();
      sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
    }
    handle(sock);
  });
  server.maxConnections = MAX_CONNECTIONS;

  // Answered after the reply is on its way: the stop frame must reach the client that asked.
  const context: HandlerContext = { registry, agent: { info: { pid: process.pid, version: VERSION, protocol: PROTOCOL_VERSION }, stop: (why) => setImmediate(() => void stop(why)) } };

  const handle = (sock: Socket) => {
    sinceCollect++;
    const reader = new FrameReader();
    let gotRequest = false;
    let open = true;
    sock.setEncoding('utf8');
    const deadline = setTimeout(() => {
      if (!gotRequest) sock.destroy();
    }, deadlineMs);
    const requestIn = () => {
      gotRequest = true;
      clearTimeout(deadline);
      pending.delete(sock);
    };
    sock.on('error', () => {});
    // The client half-closed without a whole request: none is coming. Free the slot now rather than at the deadline.
    sock.on('end', () => {
      if (!gotRequest) sock.destroy();
    });
    sock.on('close', () => {
      open = false;
      clearTimeout(deadline);
    });
    const send = (f: Frame) => {
      if (open && !sock.destroyed) sock.write(encodeFrame(f));
    };
    const finish = (f: Frame) => {
      send(f);
      if (open) sock.end();
    };
    // Questions this connection's caller has not answered yet (a code to paste, a password).
    const prompts = new Map<number, (value: string | null) => void>();
    let promptIds = 0;
    const caller: Caller = {
      notify: (message) => send({ t: 'notice', message }),
      prompt: (message, secret) =>
        new Promise((resolve) => {
          if (!open || sock.destroyed) return resolve(null);
          const id = ++promptIds;
          prompts.set(id, resolve);
          send({ t: 'prompt', id, message, secret });
        }),
    };
    sock.on('close', () => {
      for (const resolve of prompts.values()) resolve(null);
      prompts.clear();
    });
    sock.on('data', (chunk: string) => {
      let frames: unknown[];
      try {
        frames = reader.push(chunk);
      } catch (err) {
        if (gotRequest) return sock.destroy(); // garbage after the request: drop the caller
        requestIn();
        finish(errorFrame(err));
        sock.destroy();
        return;
      }
      if (gotRequest) {
        // One request per connection; after it, only answers to our prompts are read.
        for (const raw of frames) {
          const a = parseAnswer(raw);
          const resolve = a && prompts.get(a.id);
          if (a && resolve) {
            prompts.delete(a.id);
            resolve(a.value);
          }
        }
        return;
      }
      if (frames.length === 0) return;
      requestIn();
      let req: ParsedRequest;
      try {
        req = parseRequest(frames[0]);
      } catch (err) {
        finish(errorFrame(err));
        return;
      }
      lastActivity = Date.now();
      inFlight++;
      handleRequest(req, caller, context)
        .then(finish, (err: unknown) => {
          if (!isOidcError(err) || err.code === 'E_INTERNAL') log.error(err, `request ${req.op}`);
          finish(errorFrame(err));
        })
        .finally(() => {
          inFlight--;
          lastActivity = Date.now();
        });
    });
  };

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`agent stopping: ${reason}`);
      clearInterval(idleTimer);
      clearInterval(collectTimer);
      clearInterval(sweeper);
      server.close();
      for (const f of [opts.socketPath, join(dirname(opts.socketPath), 'agent.json')]) {
        try {
          unlinkSync(f);
        } catch {}
      }
      // Cancel logins first, so their callers get an answer ("the agent is stopping") before we hang up.
      await registry.close();
      const deadline = Date.now() + 1_000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const s of sockets) s.destroy();
      resolveClosed();
    })();
    return stopping;
  };

  const idleTimer = setInterval(() => {
    if (opts.idleTimeoutMs > 0 && inFlight === 0 && !registry.busy() && Date.now() - lastActivity > opts.idleTimeoutMs) void stop('idle');
  }, Math.min(5_000, Math.max(200, opts.idleTimeoutMs / 4)));
  idleTimer.unref();

  // A burst of requests (kubectl in a loop, a CI job) leaves its garbage in a grown old space until V8's
  // memory reducer gets to it, which can take tens of seconds: collect it once the agent is quiet again.
  // Exposed on the first burst only: it costs a context, and an agent that never sees a burst needs none.
  let sinceCollect = 0;
  let collect: (() => void) | null | undefined;
  const collectTimer = setInterval(() => {
    if (sinceCollect >= COLLECT_AFTER_CONNECTIONS && inFlight === 0 && Date.now() - lastActivity > 1_000) {
      sinceCollect = 0;
      if (collect === undefined) collect = fullCollector() ?? null;
      collect?.();
    }
  }, 1_000);
  collectTimer.unref();

  // The socket is born 0600: no window in which another user could connect.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  server.on('error', (err) => log.error(err, 'agent socket'));
  log.info(`agent ${VERSION} (pid ${process.pid}) listening on ${opts.socketPath}`);
  return { server, closed, stop };
}
