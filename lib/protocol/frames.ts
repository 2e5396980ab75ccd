import { OidcError, isErrorCode, isOidcError } from '../errors.js';
import { VERSION } from '../version.js';
import { PROTOCOL_VERSION } from './version.js';
import { MAX_FRAME_BYTES, type AgentInfo, type AnswerFrame, type ErrorFrame, type Frame, type RepliesByOp, type Reply, type ReplyFor, type Request, type SessionStatus } from './wire.js';

/** The frame codec (both sides), and the client's reading of what the agent sends. */

export function encodeFrame(frame: Frame | Request | AnswerFrame): string {
  return `${JSON.stringify(frame)}\n`;
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

/** The agent's answer for a failure: the error's code, message and hint (anything else is E_INTERNAL). */
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

const REPLY_FOR_OP: { [Op in keyof RepliesByOp]: RepliesByOp[Op]['t'] } = { exec: 'token', logout: 'logged-out', 'logout-all': 'logged-out', status: 'status', ping: 'pong', stop: 'stopping' };

/** Does `reply` answer `req`? The client refuses any other answer. */
export function answers<R extends Request>(req: R, reply: Reply): reply is ReplyFor<R> {
  return REPLY_FOR_OP[req.op] === reply.t;
}

/** Guards for JSON from the socket, shared by the client's reading of frames and the agent's of requests. */
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The string values of `keys` in `v`: a caller's environment as the client picks it, and again as the agent reads a request's `env`. */
export function pickStrings(v: unknown, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const k of keys) if (typeof v[k] === 'string') out[k] = v[k] as string;
  return out;
}

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
