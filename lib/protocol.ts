import { OidcError, type ErrorCode } from './errors.js';
import type { ApiVersion } from './exec-credential.js';
import { validateOptions, type GetTokenOptions } from './options.js';

/**
 * Client <-> agent frames: one request per connection, newline-delimited JSON, size-capped.
 * The agent may send any number of `notice` frames before exactly one final frame.
 */
export const PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 256 * 1024;

/** The caller's environment the agent may use for this request (a daemon keeps the env of whoever started it). */
export const FORWARDED_ENV = [
  'BROWSER', 'DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'XAUTHORITY', 'DBUS_SESSION_BUS_ADDRESS',
  'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'NODE_EXTRA_CA_CERTS',
] as const;

export type TokenRequest = {
  op: 'token';
  v: number;
  version: string;
  options: GetTokenOptions;
  apiVersion: ApiVersion;
  interactive: boolean;
  env: Record<string, string>;
};
export type SimpleRequest = { op: 'ping' | 'stop' | 'status'; v: number; version: string };
export type LogoutRequest = { op: 'logout'; v: number; version: string; options: GetTokenOptions };
export type Request = TokenRequest | SimpleRequest | LogoutRequest;

export type Frame =
  | { t: 'notice'; message: string }
  | { t: 'token'; token: string; expiresAt: number }
  | { t: 'ok'; data?: unknown }
  | { t: 'error'; code: ErrorCode; message: string; hint?: string; agentVersion?: string };

export function encodeFrame(frame: Frame | Request): string {
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

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseFrame(v: unknown): Frame {
  if (isObj(v)) {
    if (v.t === 'notice' && typeof v.message === 'string') return { t: 'notice', message: v.message };
    if (v.t === 'token' && typeof v.token === 'string' && v.token.length > 0 && typeof v.expiresAt === 'number') return { t: 'token', token: v.token, expiresAt: v.expiresAt };
    if (v.t === 'ok') return { t: 'ok', data: v.data };
    if (v.t === 'error' && typeof v.code === 'string' && typeof v.message === 'string') {
      const f: Frame = { t: 'error', code: v.code as ErrorCode, message: v.message };
      if (typeof v.hint === 'string') f.hint = v.hint;
      if (typeof v.agentVersion === 'string') f.agentVersion = v.agentVersion;
      return f;
    }
  }
  throw new OidcError('E_PROTOCOL', 'the agent sent a frame this client does not understand');
}

/** Validate a request from the socket; the options are checked again where they are used. */
export function parseRequest(v: unknown): Request {
  if (!isObj(v) || typeof v.v !== 'number' || typeof v.version !== 'string') throw new OidcError('E_PROTOCOL', 'malformed request');
  switch (v.op) {
    case 'ping':
    case 'stop':
    case 'status':
      return { op: v.op, v: v.v, version: v.version };
    case 'logout':
    case 'token': {
      if (!isObj(v.options)) throw new OidcError('E_PROTOCOL', 'request without options');
      const o = v.options;
      if (typeof o.issuerUrl !== 'string' || typeof o.clientId !== 'string') throw new OidcError('E_PROTOCOL', 'request options lack issuer or client');
      const options = validateOptions(v.options);
      if (v.op === 'logout') return { op: 'logout', v: v.v, version: v.version, options };
      const env: Record<string, string> = {};
      if (isObj(v.env)) for (const k of FORWARDED_ENV) if (typeof v.env[k] === 'string') env[k] = v.env[k] as string;
      const apiVersion = v.apiVersion === 'client.authentication.k8s.io/v1' ? v.apiVersion : 'client.authentication.k8s.io/v1beta1';
      return { op: 'token', v: v.v, version: v.version, options, apiVersion, interactive: v.interactive === true, env };
    }
    default:
      throw new OidcError('E_PROTOCOL', 'unknown request');
  }
}

export function pickEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of FORWARDED_ENV) {
    const v = env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
