import { isBun } from '../runtime.js';

/**
 * One connection to the agent's socket, as the client needs it: text frames out, text in, then the
 * end. Three implementations behind it:
 *
 * - Under Bun (the release executable): Bun's own socket API, `Bun.connect({ unix })`. node:net under
 *   Bun is a compatibility layer over the same sockets and took 16 ms of a 6 ms get-token (measured:
 *   a compiled client, DESIGN.md §7). Not on Windows, where the agent listens on a named pipe.
 * - libuv's pipe handle, driven directly (`process.binding('pipe_wrap')`, the handle node:net wraps).
 *   Loading node:net (and node:tty, which loads it) is about 4 ms of every `node` start, an eighth of
 *   the whole command, and a single executable that holds node:net in its start-up snapshot starts 2 ms
 *   later than one without. kubectl runs get-token before each command, so this is the default where it
 *   is known to work: POSIX, and the binding with the shape this code was tested against.
 * - node:net, loaded on first use: everywhere else (Windows named pipes), with --pending-deprecation
 *   (process.binding would print a warning), and with KUBECTL_OIDC_TRANSPORT=net.
 *
 * Both deliver the same events and the same errors (`code` ENOENT, ECONNREFUSED, …, as node:net does).
 */
export interface Conn {
  /** Queued until the connection is up. */
  write(text: string): void;
  /** Idempotent; no event follows. */
  close(): void;
}

export interface ConnEvents {
  /** The connection is up, and the writes queued until then have gone out. */
  connected?(): void;
  data(text: string): void;
  /** The connection failed or the peer closed it (`err` undefined for a clean end). Called once. */
  end(err?: NodeJS.ErrnoException): void;
}

export type Transport = 'bun' | 'pipe' | 'net';

export function dial(path: string, events: ConnEvents, env: Record<string, string | undefined> = process.env): Conn {
  const transport = transportFor(env);
  if (transport === 'bun') return dialBun(path, events);
  const raw = transport === 'pipe' ? pipeBinding() : undefined;
  return raw ? dialPipe(raw, path, events) : dialNet(path, events);
}

/** Which transport `dial` uses with this environment (the binding permitting). */
export function transportFor(env: Record<string, string | undefined>): Transport {
  if (env.KUBECTL_OIDC_TRANSPORT === 'net' || process.platform === 'win32') return 'net';
  if (isBun()) return 'bun';
  if (env.KUBECTL_OIDC_TRANSPORT === 'pipe') return 'pipe';
  const pending = env.NODE_PENDING_DEPRECATION === '1' || process.execArgv.includes('--pending-deprecation') || /(^|\s)--pending-deprecation\b/.test(env.NODE_OPTIONS ?? '');
  return pending ? 'net' : 'pipe';
}

// ---------------------------------------------------------------------------------------------
// libuv's pipe handle

interface PipeHandle {
  connect(req: ConnectReq, path: string): number;
  readStart(): number;
  writeUtf8String(req: WriteReq, text: string): number;
  close(cb?: () => void): void;
  onread: (buf: ArrayBuffer | undefined) => void;
}
interface ConnectReq {
  oncomplete: (status: number) => void;
}
interface WriteReq {
  handle: PipeHandle;
  oncomplete: (status: number) => void;
  async: boolean;
}
interface PipeBinding {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => ConnectReq;
  WriteWrap: new () => WriteReq;
  SOCKET: number;
  state: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** libuv's end of stream, the same number on every platform. */
const UV_EOF = -4095;
let binding: PipeBinding | null | undefined;

/** The bindings, or undefined when they are missing or not of the shape used here (then node:net). */
function pipeBinding(): PipeBinding | undefined {
  if (binding !== undefined) return binding ?? undefined;
  binding = null;
  try {
    const load = (process as unknown as { binding?: (name: string) => Record<string, unknown> }).binding;
    if (typeof load !== 'function') return undefined;
    const p = load.call(process, 'pipe_wrap');
    const s = load.call(process, 'stream_wrap');
    const constants = p.constants as Record<string, unknown> | undefined;
    const fn = (v: unknown) => typeof v === 'function';
    const int = (v: unknown): v is number => Number.isInteger(v);
    const proto = fn(p.Pipe) ? (p.Pipe as { prototype: Record<string, unknown> }).prototype : {};
    if (
      fn(p.PipeConnectWrap) && fn(s.WriteWrap) && int(constants?.SOCKET) && s.streamBaseState instanceof Int32Array &&
      int(s.kReadBytesOrError) && int(s.kArrayBufferOffset) && int(s.kLastWriteWasAsync) &&
      ['connect', 'readStart', 'writeUtf8String', 'close'].every((m) => fn(proto[m]))
    ) {
      binding = {
        Pipe: p.Pipe as PipeBinding['Pipe'],
        PipeConnectWrap: p.PipeConnectWrap as PipeBinding['PipeConnectWrap'],
        WriteWrap: s.WriteWrap as PipeBinding['WriteWrap'],
        SOCKET: constants!.SOCKET as number,
        state: s.streamBaseState,
        kReadBytesOrError: s.kReadBytesOrError,
        kArrayBufferOffset: s.kArrayBufferOffset,
        kLastWriteWasAsync: s.kLastWriteWasAsync,
      };
    }
  } catch {}
  return binding ?? undefined;
}

/** An error as node:net makes it: `code` is what isNoAgent and the messages look at. */
function uvError(status: number, syscall: string, path: string): NodeJS.ErrnoException {
  let code: string;
  try {
    // Only on this Node-only path, and only on an error: node:util is not loaded at every start (it is
    // part of Node's own start-up, but not of Bun's, where importing it costs ~10% of a get-token).
    code = process.getBuiltinModule('node:util').getSystemErrorName(status);
  } catch {
    code = `E${-status}`;
  }
  return Object.assign(new Error(`${syscall} ${code} ${path}`), { errno: status, code, syscall, address: path });
}

function dialPipe(b: PipeBinding, path: string, events: ConnEvents): Conn {
  const handle = new b.Pipe(b.SOCKET);
  const decoder = new TextDecoder();
  /** Writes waiting for the connection; undefined once it is up. */
  let queue: string[] | undefined = [];
  /** Requests in flight are kept referenced until they complete. */
  const inFlight = new Set<object>();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    handle.onread = () => {}; // the setter takes only a function
    handle.close();
  };
  const finish = (err?: NodeJS.ErrnoException) => {
    if (closed) return;
    close();
    events.end(err);
  };
  const send = (text: string) => {
    const req = new b.WriteWrap();
    req.handle = handle;
    req.async = false;
    req.oncomplete = (status) => {
      inFlight.delete(req);
      if (status < 0) finish(uvError(status, 'write', path));
    };
    const err = handle.writeUtf8String(req, text);
    if (err < 0) return finish(uvError(err, 'write', path));
    if (b.state[b.kLastWriteWasAsync]) inFlight.add(req);
  };
  handle.onread = (buf) => {
    const n = b.state[b.kReadBytesOrError]!;
    if (n > 0 && buf) {
      const text = decoder.decode(new Uint8Array(buf, b.state[b.kArrayBufferOffset], n), { stream: true });
      if (text) events.data(text);
    } else if (n === UV_EOF) {
      finish();
    } else if (n < 0) {
      finish(uvError(n, 'read', path));
    }
  };
  const req = new b.PipeConnectWrap();
  req.oncomplete = (status) => {
    inFlight.delete(req);
    if (closed) return;
    if (status < 0) return finish(uvError(status, 'connect', path));
    const err = handle.readStart();
    if (err < 0) return finish(uvError(err, 'read', path));
    const pending = queue ?? [];
    queue = undefined;
    for (const text of pending) if (!closed) send(text);
    if (!closed) events.connected?.();
  };
  inFlight.add(req);
  const err = handle.connect(req, path);
  // As node:net does, a failure to even start connecting is reported on a later tick, not thrown.
  if (err < 0) process.nextTick(() => finish(uvError(err, 'connect', path)));
  return {
    write(text) {
      if (closed) return;
      if (queue) queue.push(text);
      else send(text);
    },
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// Bun.connect

/** The part of Bun's socket API used here (bun-types is not a dependency). */
interface BunSocket {
  /** Bytes written now (fewer than given when the kernel buffer is full: the rest after `drain`), or -1. */
  write(data: Uint8Array): number;
  end(): void;
}
interface BunSocketHandler {
  open(s: BunSocket): void;
  data(s: BunSocket, data: Uint8Array): void;
  drain(s: BunSocket): void;
  end(s: BunSocket): void;
  close(s: BunSocket, err?: Error): void;
  error(s: BunSocket, err: Error): void;
  connectError(s: BunSocket, err: Error): void;
}
interface BunApi {
  connect(o: { unix: string; socket: BunSocketHandler }): Promise<BunSocket>;
}

function dialBun(path: string, events: ConnEvents): Conn {
  const bun = (globalThis as unknown as { Bun: BunApi }).Bun;
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let sock: BunSocket | undefined;
  /** Bytes not yet taken by the socket: written in order, the rest on `drain`. */
  let pending: Uint8Array[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pending = [];
    sock?.end();
  };
  const finish = (err?: Error) => {
    if (closed) return;
    close();
    events.end(err as NodeJS.ErrnoException | undefined);
  };
  const flush = () => {
    while (sock && !closed && pending.length > 0) {
      const chunk = pending[0]!;
      const n = sock.write(chunk);
      if (n < 0) return finish(Object.assign(new Error(`write EPIPE ${path}`), { code: 'EPIPE', syscall: 'write', address: path }));
      if (n < chunk.length) {
        pending[0] = chunk.subarray(n);
        return;
      }
      pending.shift();
    }
  };
  // Bun's errors carry node:net's `code` (ENOENT, ECONNREFUSED, …); connectError also rejects the promise.
  // It can run inside connect() itself: as node:net does, no event reaches the caller before dial()
  // has returned (ask() closes the connection it is still being handed).
  let returned = false;
  const later = (fn: () => void) => (returned ? fn() : process.nextTick(fn));
  bun
    .connect({
      unix: path,
      socket: {
        open(s) {
          if (closed) return s.end();
          sock = s;
          later(() => {
            flush();
            if (!closed) events.connected?.();
          });
        },
        data(_s, data) {
          if (closed) return;
          const text = decoder.decode(data, { stream: true });
          if (text) events.data(text);
        },
        drain: () => flush(),
        end: () => later(() => finish()),
        close: (_s, err) => later(() => finish(err)),
        error: (_s, err) => later(() => finish(err)),
        connectError: (_s, err) => later(() => finish(err)),
      },
    })
    .catch((err: Error) => later(() => finish(err)));
  returned = true;
  return {
    write(text) {
      if (closed) return;
      pending.push(encoder.encode(text));
      flush();
    },
    close,
  };
}

// ---------------------------------------------------------------------------------------------
// node:net

function dialNet(path: string, events: ConnEvents): Conn {
  let closed = false;
  let sock: import('node:net').Socket | undefined;
  const queue: string[] = [];
  const finish = (err?: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    sock?.destroy();
    events.end(err);
  };
  import('node:net').then(
    ({ connect }) => {
      if (closed) return;
      const s = connect(path);
      sock = s;
      s.setEncoding('utf8');
      s.once('connect', () => {
        if (!closed) for (const text of queue.splice(0)) s.write(text);
        if (!closed) events.connected?.();
      });
      s.on('data', (text: string) => !closed && events.data(text));
      s.once('error', (err) => finish(err));
      s.once('close', () => finish());
    },
    (err: Error) => finish(err),
  );
  return {
    write(text) {
      if (closed) return;
      if (sock && !sock.connecting) sock.write(text);
      else queue.push(text);
    },
    close() {
      closed = true;
      sock?.destroy();
    },
  };
}
