import { OidcError } from '../errors.js';
import { parseTokenFlags } from '../flags/parse.js';
import type { TokenFlags } from '../flags/table.js';
import { pickEnv, servesClient, versionMismatch, type AgentInfo, type ExecRequest, type Caller, type Reply, type ReplyFor, type Request } from '../protocol.js';
import type { Registry } from './registry.js';

export interface HandlerContext {
  registry: Registry;
  /** The agent answering, or undefined in-process: then there is no agent to ping, stop or describe. */
  agent?: { info: AgentInfo; stop(reason: string): void };
}

/**
 * The one request handler, used by the agent's socket server and by get-token's in-process fallback.
 * Every reply is produced by the work it reports; a request this process cannot serve is an error.
 */
export async function handleRequest<R extends Request>(req: R, caller: Caller, ctx: HandlerContext): Promise<ReplyFor<R>>;
export async function handleRequest(req: Request, caller: Caller, ctx: HandlerContext): Promise<Reply> {
  if (!servesClient(req.v, req.version)) {
    if (req.op === 'stop' && ctx.agent) {
      // A client of another version asks this agent to leave so that it can start its own.
      ctx.agent.stop(`stop requested by a client of version ${req.version}`);
      return { t: 'stopping' };
    }
    throw versionMismatch(req.v, req.version);
  }
  switch (req.op) {
    case 'exec':
    case 'token': {
      const flags = req.op === 'exec' ? execFlags(req) : req;
      const t = await ctx.registry.getToken({ flags, interactive: req.interactive, env: pickEnv(req.env), caller });
      if (!flags.useAccessToken) {
        if (t.idToken === '') {
          throw new OidcError('E_ISSUER_RESPONSE', 'the issuer returned no ID token for the client-credentials grant, only an access token', { hint: 'add --oidc-use-access-token to send the access token to Kubernetes' });
        }
        return { t: 'token', token: t.idToken, expiresAt: t.expiresAt };
      }
      if (!t.accessToken) {
        throw new OidcError('E_ISSUER_RESPONSE', 'the issuer gave no access token, so --oidc-use-access-token has nothing to send', { hint: 'drop --oidc-use-access-token' });
      }
      return { t: 'token', token: t.accessToken, expiresAt: Math.min(t.accessExpiresAt ?? t.expiresAt, t.expiresAt) };
    }
    case 'logout':
      return { t: 'logged-out', ...(await ctx.registry.logout(req.provider, req.ui, req.cache, req.env)) };
    case 'logout-all':
      return { t: 'logged-out', ...(await ctx.registry.logoutAll(req)) };
    case 'status': {
      // In-process (no agent running) this lists only the token files: say what cannot be seen.
      const notes = ['the OS keyring cannot be listed: sessions kept there show only while the agent holds them'];
      return { t: 'status', ...(ctx.agent ? { agent: ctx.agent.info } : {}), sessions: await ctx.registry.status(req.cacheDirs), notes };
    }
    case 'ping':
      return { t: 'pong', agent: requireAgent(ctx).info };
    case 'stop':
      requireAgent(ctx).stop('stop requested');
      return { t: 'stopping' };
  }
}

/**
 * An exec request's command line, parsed as get-token would (a bad flag is the caller's usage error).
 * kubectl sends the same command line every time: the last few parses are kept (half the agent's work
 * per warm request otherwise). Not one that reads a secret file, which may have changed.
 */
function execFlags(req: ExecRequest): TokenFlags {
  const key = JSON.stringify([req.argv, req.cwd, req.cluster, req.env]);
  const known = parsedCommandLines.get(key);
  if (known) return known;
  const parsed = parseTokenFlags(req.argv, req.cwd, req.env, req.cluster);
  if (parsed.help) throw new OidcError('E_USAGE', 'get-token was asked for its help here', { hint: 'run `kubectl-oidc get-token --help`' });
  if (!req.argv.some((a) => a.includes('client-secret-file'))) {
    if (parsedCommandLines.size >= PARSED_CAP) parsedCommandLines.delete(parsedCommandLines.keys().next().value!);
    parsedCommandLines.set(key, Object.freeze(parsed.flags));
  }
  return parsed.flags;
}

const PARSED_CAP = 32;
const parsedCommandLines = new Map<string, TokenFlags>();

function requireAgent(ctx: HandlerContext): NonNullable<HandlerContext['agent']> {
  if (!ctx.agent) throw new OidcError('E_AGENT', 'no agent is running (this request was handled without one)', { hint: 'run `kubectl oidc agent start` to see why' });
  return ctx.agent;
}
