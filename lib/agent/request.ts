import { isAbsolute } from 'node:path';
import { OidcError, isOidcError } from '../errors.js';
import type { ApiVersion } from '../exec-credential.js';
import { parseTokenFlags } from '../flags/parse.js';
import { parseCache, parseProvider, parseUi } from '../flags/validate.js';
import type { CacheConfig, ClusterInfo, ProviderConfig, TokenFlags, UiConfig } from '../flags/table.js';
import { isNum, isObj, isStrs, pickStrings } from '../protocol/frames.js';
import { servesClient, versionMismatch } from '../protocol/version.js';
import { EXEC_REQUEST_ENV, FORWARDED_ENV, type AnswerFrame, type Envelope, type LogoutAllRequest, type PingRequest, type StatusRequest, type StopRequest } from '../protocol/wire.js';

/**
 * A request as the agent reads it: every part parsed as it would be from flags. The handler
 * (handler.ts) gets only these, from the socket (server.ts) and in-process (main.ts) alike.
 */
export type ParsedRequest = TokenParsed | LogoutParsed | LogoutAllRequest | StatusRequest | PingRequest | StopRequest;
/** A token for the session `flags` name. `env`: the caller's network settings (FORWARDED_ENV). */
export type TokenParsed = Envelope & { op: 'exec'; flags: TokenFlags; apiVersion: ApiVersion; interactive: boolean; env: Record<string, string> };
export type LogoutParsed = Envelope & { op: 'logout'; provider: ProviderConfig; ui: UiConfig; cache: CacheConfig; env: Record<string, string> };

/**
 * Validate a request (from the socket, or this process's own in-process). The version is checked here
 * and nowhere else. `inProcess`: a request that never crossed the socket, so not held to its caps.
 */
export function parseRequest(v: unknown, opts: { inProcess?: boolean } = {}): ParsedRequest {
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
    case 'exec': {
      // No cap per argument: the frame's is enough, and an inlined CA bundle is often over 64 KiB.
      if (!isStrs(v.argv) || (v.argv.length > 200 && !opts.inProcess)) throw new OidcError('E_PROTOCOL', 'malformed request: argv');
      if (typeof v.cwd !== 'string' || !isAbsolute(v.cwd)) throw new OidcError('E_PROTOCOL', 'malformed request: cwd is not an absolute path');
      const c = isObj(v.cluster) ? v.cluster : {};
      const cluster: ClusterInfo = {};
      if (c.config !== undefined && c.config !== null) cluster.config = c.config;
      if (typeof c.caData === 'string') cluster.caData = c.caData;
      const env = pickStrings(v.env, EXEC_REQUEST_ENV);
      const flags = commandLineFlags(v.argv, v.cwd, env, cluster);
      return {
        ...envelope,
        op: 'exec',
        flags: v.idToken === true ? { ...flags, useAccessToken: false } : flags,
        apiVersion: apiVersionOf(v.apiVersion),
        interactive: v.interactive === true,
        env: forwardedEnv(env),
      };
    }
    case 'token': {
      // The token request of logins before the one request kind (same protocol 3): their flags, parsed on
      // their side. Read here into the one parsed form; drop once MIN_CLIENT_PROTOCOL passes 3.
      const forwarded = forwardedEnv(v.env);
      const apiVersion = apiVersionOf(v.apiVersion);
      return asProtocolError(() => ({
        ...envelope,
        op: 'exec',
        flags: {
          provider: parseProvider(v.provider),
          ui: parseUi(v.ui),
          cache: parseCache(v.cache),
          forceRefresh: v.forceRefresh === true,
          useAccessToken: v.useAccessToken === true,
          notices: isStrs(v.notices) ? v.notices.slice(0, 20).map((n) => n.slice(0, 300)) : [],
        },
        apiVersion,
        interactive: v.interactive === true,
        env: forwarded,
      }));
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

/**
 * A token request's command line, parsed as get-token would (a bad flag is the caller's usage error).
 * kubectl sends the same command line every time: the last few parses are kept (half the agent's work
 * per warm request otherwise). Not one that reads a secret file, which may have changed.
 */
function commandLineFlags(argv: string[], cwd: string, env: Record<string, string>, cluster: ClusterInfo): TokenFlags {
  const key = JSON.stringify([argv, cwd, cluster, env]);
  const known = parsedCommandLines.get(key);
  if (known) return known;
  const parsed = parseTokenFlags(argv, cwd, env, cluster);
  if (parsed.help) throw new OidcError('E_USAGE', 'get-token was asked for its help here', { hint: 'run `kubectl-oidc get-token --help`' });
  if (!argv.some((a) => a.includes('client-secret-file'))) {
    if (parsedCommandLines.size >= PARSED_CAP) parsedCommandLines.delete(parsedCommandLines.keys().next().value!);
    parsedCommandLines.set(key, Object.freeze(parsed.flags));
  }
  return parsed.flags;
}

const PARSED_CAP = 32;
const parsedCommandLines = new Map<string, TokenFlags>();

const forwardedEnv = (v: unknown) => pickStrings(v, FORWARDED_ENV);

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
