/**
 * Issue 16 item 4 and issue 17 item 9: which agent a client uses, replaces or leaves alone, and where it
 * uses none. A fake agent (a plain unix socket server) answers as agents of other versions do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { send, mismatchAction, noAgentOn } from '../../lib/client/transport.js';
import { parseFrame } from '../../lib/protocol/frames.js';
import { compareVersions, servesClient, PROTOCOL_VERSION, MIN_CLIENT_PROTOCOL } from '../../lib/protocol/version.js';
import { envelope, MAX_FRAME_BYTES, type Request, type Reply } from '../../lib/protocol/wire.js';
import { parseRequest } from '../../lib/agent/request.js';
import { checkPrivateDir, privateRuntimeDir, MAX_SOCKET_PATH_BYTES } from '../../lib/paths.js';
import { isOidcError } from '../../lib/errors.js';
import type { Io } from '../../lib/io.js';

test('versions compare as semver: numbers by value, a pre-release before its release, build metadata ignored, junk lowest', () => {
  const ordered = ['junk', '0.1.0-alpha', '0.1.0-alpha.1', '0.1.0-alpha.beta', '0.1.0-beta.2', '0.1.0-beta.11', '0.1.0-rc.1', '0.1.0', '0.1.1', '0.2.0', '0.10.0', '1.0.0'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      assert.equal(compareVersions(ordered[i]!, ordered[j]!), Math.sign(i - j), `${ordered[i]} vs ${ordered[j]}`);
    }
  }
  assert.equal(compareVersions('1.2.3+build.5', '1.2.3'), 0);
  assert.equal(compareVersions('v1.2.3', '1.2.3'), 0);
});

test('an agent serves its own version and older clients of a protocol it reads; a newer client is refused so it can replace it', () => {
  const own = { version: '0.5.0', protocol: 4 };
  assert.equal(servesClient(4, '0.5.0', own), true);
  assert.equal(servesClient(3, '0.5.0', own), false, 'same version, another protocol: a dev build');
  assert.equal(servesClient(4, '0.4.9', own), true);
  assert.equal(servesClient(MIN_CLIENT_PROTOCOL, '0.4.0', own), MIN_CLIENT_PROTOCOL <= 4);
  assert.equal(servesClient(MIN_CLIENT_PROTOCOL - 1, '0.1.0', own), false, 'an older protocol than it reads');
  assert.equal(servesClient(4, '0.5.1', own), false);
  assert.equal(servesClient(4, '0.6.0-rc.1', own), false);
  assert.equal(servesClient(4, '0.5.0-rc.1', own), true);
  // Through the socket's parser: a mismatch is refused before the body, with this agent's version.
  assert.throws(() => parseRequest({ op: 'ping', v: PROTOCOL_VERSION, version: '999.0.0' }), (e) => isOidcError(e, 'E_VERSION_MISMATCH'));
  assert.equal(parseRequest({ op: 'ping', v: PROTOCOL_VERSION, version: '0.0.1' }).op, 'ping');
  assert.deepEqual(parseFrame({ t: 'error', code: 'E_VERSION_MISMATCH', message: 'm', agentVersion: '1.0.0\u001b[31m', agentProtocol: 3 }), {
    t: 'error', code: 'E_VERSION_MISMATCH', message: 'm', agentVersion: '1.0.0??31m', agentProtocol: 3,
  });
});

test('a client replaces only an agent older than itself (or one too old to say)', () => {
  assert.equal(mismatchAction('0.1.0', '0.2.0'), 'replace');
  assert.equal(mismatchAction(undefined, '0.2.0'), 'replace');
  assert.equal(mismatchAction('0.2.0', '0.2.0'), 'without');
  assert.equal(mismatchAction('0.3.0', '0.2.0'), 'without');
  assert.equal(mismatchAction('0.2.0', '0.2.0-rc.1'), 'without');
});

test('Windows gets no agent: the named pipe could be created first by another user', () => {
  assert.match(noAgentOn('win32') ?? '', /Windows/);
  for (const p of ['linux', 'darwin', 'freebsd'] as const) assert.equal(noAgentOn(p), undefined);
});

// ---------------------------------------------------------------------------------------------

interface FakeAgent {
  sock: string;
  /** Requests received, by op. */
  ops: string[];
  close(): Promise<void>;
}

/** A unix socket that answers every request with `answer(req)` and records what it was asked. */
async function fakeAgent(dir: string, answer: (req: { op: string }) => object): Promise<FakeAgent> {
  const run = join(dir, 'run');
  mkdirSync(run, { mode: 0o700, recursive: true });
  const sock = join(run, 'agent.sock');
  const ops: string[] = [];
  const server: Server = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', () => {});
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i < 0) return;
      const req = JSON.parse(buf.slice(0, i)) as { op: string };
      ops.push(req.op);
      s.end(`${JSON.stringify(answer(req))}\n`);
      if (req.op === 'stop') server.close();
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return { sock, ops, close: () => new Promise((r) => server.close(() => r())) };
}

function fakeIo(dir: string, platform: NodeJS.Platform = process.platform): Io & { err: string[]; inProcess: string[] } {
  const err: string[] = [];
  const inProcess: string[] = [];
  return {
    argv: [], cwd: '/', err, inProcess, platform,
    env: { KUBECTL_OIDC_RUNTIME_DIR: join(dir, 'run'), HOME: dir, XDG_STATE_HOME: join(dir, 'state') },
    stdinIsTTY: async () => false,
    stdout() {},
    stderr: (t) => void err.push(t),
    // An agent that cannot start: a test that reaches a spawn sees it fail, and says so on stderr.
    self: ['/bin/false'],
    async loadInProcess() {
      return {
        async handleInProcess(req: Request): Promise<Reply> {
          inProcess.push(req.op);
          return req.op === 'exec' ? { t: 'token', token: 'in-process', expiresAt: 1 } : { t: 'pong', agent: { pid: 1, version: 'in-process' } };
        },
      };
    },
  };
}

const ping = (): Request => ({ ...envelope(), op: 'ping' });

test('on Windows every request is served in-process: no pipe is dialled, nothing is said', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const io = fakeIo(dir, 'win32');
  await send(io, ping());
  assert.deepEqual(io.inProcess, ['ping']);
  assert.deepEqual(io.err, []);
  assert.equal(existsSync(join(dir, 'run')), false, 'no runtime dir, no spawn');
});

test('an agent newer than this client that refuses it is left running; one line on stderr, work in-process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const agent = await fakeAgent(dir, () => ({ t: 'error', code: 'E_VERSION_MISMATCH', message: 'newer', agentVersion: '999.0.0', agentProtocol: PROTOCOL_VERSION + 1 }));
  t.after(() => agent.close());
  const io = fakeIo(dir);
  await send(io, ping());
  assert.deepEqual(agent.ops, ['ping'], 'never asked to stop');
  assert.deepEqual(io.inProcess, ['ping']);
  assert.equal(io.err.join('').trimEnd().split('\n').length, 1, io.err.join(''));
  assert.match(io.err.join(''), /version 999\.0\.0.*newer than this kubectl-oidc.*upgrade this copy/);
});

test('an agent of the same version answering E_PROTOCOL is never stopped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const agent = await fakeAgent(dir, () => ({ t: 'error', code: 'E_PROTOCOL', message: 'malformed request: argv' }));
  t.after(() => agent.close());
  const io = fakeIo(dir);
  await send(io, ping());
  assert.deepEqual(agent.ops, ['ping']);
  assert.deepEqual(io.inProcess, ['ping']);
  assert.match(io.err.join(''), /refused the request \(malformed request: argv\); continuing without it/);
});

test('an older agent is asked to stop (once) and replaced', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const agent = await fakeAgent(dir, (req) => (req.op === 'stop' ? { t: 'stopping' } : { t: 'error', code: 'E_VERSION_MISMATCH', message: 'older', agentVersion: '0.0.1' }));
  const io = fakeIo(dir);
  await send(io, ping());
  assert.deepEqual(agent.ops, ['ping', 'stop']);
  // Ours (/bin/false) does not start, so the work is done here: the test sees that a start was tried.
  assert.match(io.err.join(''), /the agent did not start/);
  assert.deepEqual(io.inProcess, ['ping']);
  await agent.close().catch(() => {});
});

test('a request larger than the agent reads (an inlined CA bundle) is served in-process without touching the agent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const agent = await fakeAgent(dir, () => ({ t: 'error', code: 'E_PROTOCOL', message: 'a frame is larger than allowed' }));
  t.after(() => agent.close());
  const io = fakeIo(dir);
  const req: Request = { ...envelope(), op: 'exec', argv: [`--certificate-authority-data=${'A'.repeat(MAX_FRAME_BYTES)}`], cwd: '/', cluster: {}, apiVersion: 'client.authentication.k8s.io/v1', interactive: false, env: {} };
  assert.equal((await send(io, req)).token, 'in-process');
  assert.deepEqual(agent.ops, [], 'the agent was not dialled');
  assert.deepEqual(io.inProcess, ['exec']);
  assert.deepEqual(io.err, []);
});

test('an argument over 64 KiB in a frame under the cap is read by the agent', () => {
  const ca = 'A'.repeat(100 * 1024);
  const argv = ['--oidc-issuer-url=https://i.example', '--oidc-client-id=k', `--certificate-authority-data=${ca}`];
  const req = parseRequest({ ...envelope(), op: 'exec', argv, cwd: '/', cluster: {}, apiVersion: 'client.authentication.k8s.io/v1', interactive: false, env: {} });
  assert.equal(req.op === 'exec' && req.flags.provider.caData[0], ca);
});

test('a symlink as the runtime dir is called a symlink', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-transport-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'real'), { mode: 0o700 });
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  assert.throws(() => checkPrivateDir(join(dir, 'link')), (e) => isOidcError(e, 'E_SOCKET_DIR') && /is a symlink/.test(e.message));
});

test('the private fallback for a squatted /tmp dir: the cache dir, else ~/.kubectl-oidc-run, else a clear error (socket paths over 103 bytes fail on macOS)', { skip: process.platform === 'win32' || process.platform === 'darwin' ? 'Linux paths' : false }, () => {
  assert.equal(privateRuntimeDir({ HOME: '/home/a' }, '/tmp/kubectl-oidc-1', 'x'), '/home/a/.cache/kubectl-oidc/run');
  assert.equal(privateRuntimeDir({ HOME: '/home/a', XDG_CACHE_HOME: '/c' }, '/tmp/kubectl-oidc-1', 'x'), '/c/kubectl-oidc/run');
  const mid = `/home/${'m'.repeat(66)}`; // the cache path is too long for a socket, ~/.kubectl-oidc-run is not
  assert.equal(privateRuntimeDir({ HOME: mid }, '/tmp/kubectl-oidc-1', 'x'), `${mid}/.kubectl-oidc-run`);
  assert.ok(Buffer.byteLength(`${mid}/.kubectl-oidc-run/agent.sock`) <= MAX_SOCKET_PATH_BYTES);
  assert.throws(
    () => privateRuntimeDir({ HOME: `/home/${'l'.repeat(100)}` }, '/tmp/kubectl-oidc-1', 'belongs to uid 65534'),
    (e) => isOidcError(e, 'E_SOCKET_DIR') && /\/tmp\/kubectl-oidc-1 belongs to uid 65534/.test(e.message) && /KUBECTL_OIDC_RUNTIME_DIR/.test(e.hint ?? ''),
  );
});
