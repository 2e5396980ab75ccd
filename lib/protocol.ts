import { isAbsolute } from 'node:path';
import { OidcError, isErrorCode, isOidcError, type ErrorCode } from './errors.js';
import type { ApiVersion } from './exec-credential.js';
import type { CacheConfig, ClusterInfo, ProviderConfig, TokenFlags, UiConfig } from './flags/table.js';
import { parseCache, parseProvider, parseUi } from './flags/validate.js';
import { VERSION } from './version.js';

/**
 * Client <-> agent frames: one request per connection, newline-delimited JSON, size-capped.
 * The agent may send any number of `notice` frames before exactly one final frame: the reply
 * for the request's op, or an error. Shared by the client (node:* only) and the agent.
 */
export const PROTOCOL_VERSION = 3;
/**
 * The oldest request protocol this agent still reads. An agent serves a client older than itself
 * whose protocol is in [MIN_CLIENT_PROTOCOL, PROTOCOL_VERSION], so two installed copies (the krew
 * executable and the npm package, or an upgrade while kubectl runs) share one agent. Raise it only
 * when this agent can no longer read an older client's requests; such clients then work in-process.
 */
export const MIN_CLIENT_PROTOCOL = 3;
export const MAX_FRAME_BYTES = 256 * 1024;

/** The caller's environment the agent may use for this request (a daemon keeps the env of whoever started it). */
export const FORWARDED_ENV = [
  'BROWSER', 'DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'XAUTHORITY', 'DBUS_SESSION_BUS_ADDRESS',
  'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'NODE_EXTRA_CA_CERTS',
  // Where kubelogin keeps its sessions for this caller (one may be taken over).
  'KUBECACHEDIR',
] as const;

/**
 * The caller's settings that a get-token command line may depend on (read by the agent when it parses
 * the flags: `~` in paths, the secret and password forms that keep them out of argv, --debug).
 */
export const EXEC_ENV = ['HOME', 'KUBECTL_OIDC_CLIENT_SECRET', 'KUBECTL_OIDC_PASSWORD', 'KUBECTL_OIDC_DEBUG'] as const;

/** errno codes from connect() that mean "no agent listens here": start one, or treat the socket as stale. */
export const NO_AGENT_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTSOCK', 'ENOTDIR']);

interface Envelope {
  v: number;
  version: string;
}
export type { Envelope };
/** The caller's flags as typed parts (TokenFlags), and what kubectl told it. */
export type TokenRequest = Envelope & TokenFlags & {
  op: 'token';
  apiVersion: ApiVersion;
  interactive: boolean;
  env: Record<string, string>;
};
/**
 * get-token's command line as it is: the agent parses it (parseTokenFlags) into a TokenRequest. The
 * client that kubectl starts on every command then does nothing but ask and print. `cluster` is what
 * kubectl passed with provideClusterInfo; `env`, the forwarded network settings and EXEC_ENV.
 */
export type ExecRequest = Envelope & {
  op: 'exec';
  argv: string[];
  cwd: string;
  cluster: ClusterInfo;
  apiVersion: ApiVersion;
  interactive: boolean;
  env: Record<string, string>;
};
/**
 * `env`: the caller's network settings (proxies), for the revocation request. `ui`: for its username
 * and extra params, which with the provider name the session (the client leaves the password out).
 */
export type LogoutRequest = Envelope & { op: 'logout'; provider: ProviderConfig; ui: UiConfig; cache: CacheConfig; env: Record<string, string> };
/**
 * Every session this process and the token files know. Sessions found only on disk are revoked with
 * the issuer and client named in their ID token, trusting the system roots and `caFiles`/`caData`.
 */
export type LogoutAllRequest = Envelope & { op: 'logout-all'; cacheDirs: string[]; caFiles: string[]; caData: string[]; env: Record<string, string> };
/** `cacheDirs`: token-file dirs to list besides the default one and the sessions' own. */
export type StatusRequest = Envelope & { op: 'status'; cacheDirs: string[] };
export type PingRequest = Envelope & { op: 'ping' };
export type StopRequest = Envelope & { op: 'stop' };
export type Request = TokenRequest | ExecRequest | LogoutRequest | LogoutAllRequest | StatusRequest | PingRequest | StopRequest;

/** The one place a request gets its envelope: `{ ...envelope(), op: 'status' }`. */
export function envelope(): Envelope {
  return { v: PROTOCOL_VERSION, version: VERSION };
}

export interface AgentInfo {
  pid: number;
  version: string;
  /** Absent from agents older than this field. */
  protocol?: number;
}

/** What status shows of a session: never a token. */
export interface SessionStatus {
  key: string;
  issuerUrl: string;
  clientId: string;
  /** --session-name and --username of a session the agent holds (a token file records neither). */
  sessionName?: string;
  username?: string;
  storage: string;
  /** For a session found in a token file: the file's dir. */
  cacheDir?: string;
  subject?: string;
  email?: string;
  groups?: string[];
  expiresAt?: number;
  hasRefreshToken: boolean;
  nextRefreshAt?: number;
  busy: boolean;
  /** In this process's memory (false: only found in a token file). */
  held: boolean;
}

export interface LogoutResult {
  /** Places the session was removed from (agent memory, a file, the keyring item). */
  cleared: string[];
  /** Places that could not be checked; a logout with problems is not a success. */
  problems: string[];
  /** Things worth saying that are not failures (no keyring exists here, so none was checked). */
  notes: string[];
  /** Refresh tokens revoked at the issuer (where: the issuer URL). */
  revoked: string[];
  /** Refresh tokens that could not be revoked, and why: they were still forgotten here. */
  notRevoked: string[];
}

export type TokenReply = { t: 'token'; token: string; expiresAt: number };
export type LogoutReply = { t: 'logged-out' } & LogoutResult;
/** `agent` is absent when no agent answered: the sessions were read from the token files. */
export type StatusReply = { t: 'status'; agent?: AgentInfo; sessions: SessionStatus[]; notes: string[] };
export type PongReply = { t: 'pong'; agent: AgentInfo };
export type StoppingReply = { t: 'stopping' };
export type Reply = TokenReply | LogoutReply | StatusReply | PongReply | StoppingReply;

export type ReplyFor<R extends Request> = R extends TokenRequest | ExecRequest
  ? TokenReply
  : R extends LogoutRequest | LogoutAllRequest
    ? LogoutReply
    : R extends StatusRequest
      ? StatusReply
      : R extends PingRequest
        ? PongReply
        : StoppingReply;

const REPLY_FOR_OP = { token: 'token', exec: 'token', logout: 'logged-out', 'logout-all': 'logged-out', status: 'status', ping: 'pong', stop: 'stopping' } as const;

/** Does `reply` answer `req`? The client refuses any other answer. */
export function answers<R extends Request>(req: R, reply: Reply): reply is ReplyFor<R> {
  return REPLY_FOR_OP[req.op] === reply.t;
}

/** The person behind a request, as the agent reaches them: lines on their stderr, and questions on their terminal. */
export interface Caller {
  notify(message: string): void;
  /** A line typed at the caller's terminal (/dev/tty, never stdin: kubectl owns it), or null when there is none. */
  prompt(message: string, secret: boolean): Promise<string | null>;
}

/** `agentVersion` and `agentProtocol` come with E_VERSION_MISMATCH: the client decides from them whether to replace the agent. */
export type ErrorFrame = { t: 'error'; code: ErrorCode; message: string; hint?: string; agentVersion?: string; agentProtocol?: number };
export type NoticeFrame = { t: 'notice'; message: string };
/** The agent asks the person at the caller's terminal (a code to paste, a password); the client answers with an AnswerFrame. */
export type PromptFrame = { t: 'prompt'; id: number; message: string; secret: boolean };
export type AnswerFrame = { t: 'answer'; id: number; value: string | null };
export type Frame = Reply | ErrorFrame | NoticeFrame | PromptFrame;

export function encodeFrame(frame: Frame | Request | AnswerFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

export function errorFrame(err: unknown): ErrorFrame {
  if (isOidcError(err)) {
    const f: ErrorFrame = { t: 'error', code: err.code, message: err.message };
    if (err.hint) f.hint = err.hint;
    if (err.code === 'E_VERSION_MISMATCH') {
      f.agentVersion = VERSION;
      f.agentProtocol = PROTOCOL_VERSION;
    }
    return f;
  }
  return { t: 'error', code: 'E_INTERNAL', message: `internal error: ${(err as Error)?.message ?? String(err)}`, hint: 'see the agent log; run with --debug for details' };
}

/** The error a client raises for an error frame: the same OidcError the agent threw. */
export function frameToError(f: ErrorFrame): OidcError {
  return new OidcError(f.code, f.message, f.hint ? { hint: f.hint } : undefined);
}

/** Splits a byte stream into JSON frames; refuses a line over the cap instead of buffering forever. */
export class FrameReader {
  private buf = '';
  push(chunk: string): unknown[] {
    this.buf += chunk;
    const out: unknown[] = [];
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        throw new OidcError('E_PROTOCOL', 'a frame is not valid JSON');
      }
    }
    if (this.buf.length > MAX_FRAME_BYTES) throw new OidcError('E_PROTOCOL', `a frame is larger than ${MAX_FRAME_BYTES} bytes`);
    return out;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function parseAgentInfo(v: unknown): AgentInfo | undefined {
  if (!isObj(v) || !isNum(v.pid) || typeof v.version !== 'string') return undefined;
  return isNum(v.protocol) ? { pid: v.pid, version: v.version, protocol: v.protocol } : { pid: v.pid, version: v.version };
}

function parseSessionStatus(v: unknown): SessionStatus | undefined {
  if (!isObj(v) || typeof v.key !== 'string' || typeof v.issuerUrl !== 'string' || typeof v.clientId !== 'string' || typeof v.storage !== 'string') return undefined;
  const s: SessionStatus = { key: v.key, issuerUrl: v.issuerUrl, clientId: v.clientId, storage: v.storage, hasRefreshToken: v.hasRefreshToken === true, busy: v.busy === true, held: v.held === true };
  if (typeof v.sessionName === 'string') s.sessionName = v.sessionName;
  if (typeof v.username === 'string') s.username = v.username;
  if (typeof v.subject === 'string') s.subject = v.subject;
  if (typeof v.email === 'string') s.email = v.email;
  if (isStrs(v.groups)) s.groups = v.groups;
  if (typeof v.cacheDir === 'string') s.cacheDir = v.cacheDir;
  if (isNum(v.expiresAt)) s.expiresAt = v.expiresAt;
  if (isNum(v.nextRefreshAt)) s.nextRefreshAt = v.nextRefreshAt;
  return s;
}

/** Parse a frame from the agent as untrusted input. */
export function parseFrame(v: unknown): Frame {
  const bad = () => new OidcError('E_PROTOCOL', 'the agent sent a frame this client does not understand');
  if (!isObj(v)) throw bad();
  switch (v.t) {
    case 'notice':
      if (typeof v.message === 'string') return { t: 'notice', message: v.message };
      break;
    case 'prompt':
      if (isNum(v.id) && typeof v.message === 'string') return { t: 'prompt', id: v.id, message: v.message, secret: v.secret === true };
      break;
    case 'token':
      if (typeof v.token === 'string' && v.token.length > 0 && isNum(v.expiresAt)) return { t: 'token', token: v.token, expiresAt: v.expiresAt };
      break;
    case 'logged-out':
      if (isStrs(v.cleared) && isStrs(v.problems) && isStrs(v.notes) && isStrs(v.revoked) && isStrs(v.notRevoked)) {
        return { t: 'logged-out', cleared: v.cleared, problems: v.problems, notes: v.notes, revoked: v.revoked, notRevoked: v.notRevoked };
      }
      break;
    case 'status': {
      const agent = v.agent === undefined ? undefined : parseAgentInfo(v.agent);
      if ((v.agent !== undefined && !agent) || !Array.isArray(v.sessions) || !isStrs(v.notes)) break;
      const sessions: SessionStatus[] = [];
      for (const raw of v.sessions) {
        const s = parseSessionStatus(raw);
        if (!s) throw bad();
        sessions.push(s);
      }
      return { t: 'status', ...(agent ? { agent } : {}), sessions, notes: v.notes };
    }
    case 'pong': {
      const agent = parseAgentInfo(v.agent);
      if (agent) return { t: 'pong', agent };
      break;
    }
    case 'stopping':
      return { t: 'stopping' };
    case 'error':
      if (isErrorCode(v.code) && typeof v.message === 'string') {
        const f: ErrorFrame = { t: 'error', code: v.code, message: v.message };
        if (typeof v.hint === 'string') f.hint = v.hint;
        if (typeof v.agentVersion === 'string') f.agentVersion = v.agentVersion.replace(/[^0-9A-Za-z.+-]/g, '?').slice(0, 64);
        if (isNum(v.agentProtocol)) f.agentProtocol = v.agentProtocol;
        return f;
      }
      break;
  }
  throw bad();
}

/**
 * Whether this agent serves a client of version `version` speaking protocol `v`: its own version, or an
 * older one whose protocol it still reads. A newer client is refused (E_VERSION_MISMATCH, with this
 * agent's version), so that it replaces this agent with its own; see `mismatchAction` on the client.
 */
export function servesClient(v: number, version: string, own: { version: string; protocol: number } = { version: VERSION, protocol: PROTOCOL_VERSION }): boolean {
  const cmp = compareVersions(version, own.version);
  if (cmp > 0) return false;
  if (cmp === 0) return v === own.protocol;
  return v >= MIN_CLIENT_PROTOCOL && v <= own.protocol;
}

export function versionMismatch(v: number, version: string): OidcError {
  const printable = version.replace(/[^0-9A-Za-z.+-]/g, '?').slice(0, 64);
  return new OidcError('E_VERSION_MISMATCH', `the running agent is version ${VERSION} (protocol ${PROTOCOL_VERSION}), this client ${printable} (protocol ${v})`);
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;

/**
 * Semantic-version order (semver.org §11): negative if a < b, 0 if equal, positive if a > b. Build
 * metadata is ignored; a pre-release sorts before its release. A string that is not a version sorts
 * before every version (an agent too old or too odd to say is replaced, never trusted as newer).
 */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a === b ? 0 : a < b ? -1 : 1;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1;
  const xa = ra.split('.');
  const xb = rb.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const x = xa[i];
    const y = xb[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Validate a request from the socket; every part is parsed as it would be from flags. */
export function parseRequest(v: unknown): Request {
  if (!isObj(v) || typeof v.v !== 'number' || typeof v.version !== 'string') throw new OidcError('E_PROTOCOL', 'malformed request');
  const envelope = { v: v.v, version: v.version };
  // Checked before the body: a client this agent does not serve may send a body it cannot read.
  // It may still ask this agent to stop, so that it can start its own.
  if (!servesClient(v.v, v.version) && v.op !== 'stop') throw versionMismatch(v.v, v.version);
  switch (v.op) {
    case 'ping':
    case 'stop':
      return { ...envelope, op: v.op };
    case 'status':
      return { ...envelope, op: 'status', cacheDirs: absolutePaths(v.cacheDirs, 'cacheDirs') };
    case 'logout':
      return asProtocolError(() => ({ ...envelope, op: 'logout', provider: parseProvider(v.provider), ui: parseUi(v.ui), cache: parseCache(v.cache), env: forwardedEnv(v.env) }));
    case 'logout-all':
      if (!isStrs(v.caData)) throw new OidcError('E_PROTOCOL', 'malformed request: caData');
      return { ...envelope, op: 'logout-all', cacheDirs: absolutePaths(v.cacheDirs, 'cacheDirs'), caFiles: absolutePaths(v.caFiles, 'caFiles'), caData: v.caData, env: forwardedEnv(v.env) };
    case 'token': {
      const forwarded = forwardedEnv(v.env);
      const apiVersion = apiVersionOf(v.apiVersion);
      return asProtocolError(() => ({
        ...envelope,
        op: 'token',
        provider: parseProvider(v.provider),
        ui: parseUi(v.ui),
        cache: parseCache(v.cache),
        forceRefresh: v.forceRefresh === true,
        useAccessToken: v.useAccessToken === true,
        notices: isStrs(v.notices) ? v.notices.slice(0, 20).map((n) => n.slice(0, 300)) : [],
        apiVersion,
        interactive: v.interactive === true,
        env: forwarded,
      }));
    }
    case 'exec': {
      // No cap per argument: the frame's is enough, and an inlined CA bundle is often over 64 KiB.
      if (!isStrs(v.argv) || v.argv.length > 200) throw new OidcError('E_PROTOCOL', 'malformed request: argv');
      if (typeof v.cwd !== 'string' || !isAbsolute(v.cwd)) throw new OidcError('E_PROTOCOL', 'malformed request: cwd is not an absolute path');
      const c = isObj(v.cluster) ? v.cluster : {};
      const cluster: ClusterInfo = {};
      if (c.config !== undefined && c.config !== null) cluster.config = c.config;
      if (typeof c.caData === 'string') cluster.caData = c.caData;
      const env = pickStrings(v.env, EXEC_REQUEST_ENV);
      return {
        ...envelope,
        op: 'exec',
        argv: v.argv,
        cwd: v.cwd,
        cluster,
        apiVersion: apiVersionOf(v.apiVersion),
        interactive: v.interactive === true,
        env,
      };
    }
    default:
      throw new OidcError('E_PROTOCOL', 'unknown request');
  }
}

/** An answer from the client to a prompt; anything else after the request is ignored. */
export function parseAnswer(v: unknown): AnswerFrame | undefined {
  if (!isObj(v) || v.t !== 'answer' || !isNum(v.id)) return undefined;
  return { t: 'answer', id: v.id, value: typeof v.value === 'string' ? v.value.slice(0, 4096) : null };
}

/** The string values of `keys` in `v` (a caller's env, or the `env` of a frame from the socket). */
function pickStrings(v: unknown, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const k of keys) if (typeof v[k] === 'string') out[k] = v[k] as string;
  return out;
}

const forwardedEnv = (v: unknown) => pickStrings(v, FORWARDED_ENV);
const EXEC_REQUEST_ENV = [...FORWARDED_ENV, ...EXEC_ENV];

/** The ExecCredential version kubectl asked for: v1, else v1beta1 (what an absent or older spec means). */
const apiVersionOf = (v: unknown): ApiVersion => (v === 'client.authentication.k8s.io/v1' ? v : 'client.authentication.k8s.io/v1beta1');

function absolutePaths(v: unknown, what: string): string[] {
  if (!isStrs(v) || !v.every((p) => isAbsolute(p))) throw new OidcError('E_PROTOCOL', `malformed request: ${what} is not a list of absolute paths`);
  return v;
}

/** A request body that would be a usage error as flags is a malformed frame on the socket. */
function asProtocolError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (isOidcError(err, 'E_USAGE')) throw new OidcError('E_PROTOCOL', `malformed request: ${err.message}`);
    throw err;
  }
}

/** The caller's network settings (FORWARDED_ENV), for a request. */
export const pickEnv = (env: Record<string, string | undefined>): Record<string, string> => forwardedEnv(env);

/** The forwarded network settings and EXEC_ENV, for an exec request. */
export const pickExecEnv = (env: Record<string, string | undefined>): Record<string, string> => pickStrings(env, EXEC_REQUEST_ENV);
