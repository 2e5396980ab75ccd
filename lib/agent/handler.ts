import { OidcError } from '../errors.js';
import type { AgentInfo, Caller, Reply, ReplyFor } from '../protocol/wire.js';
import type { Registry } from './registry.js';
import type { ParsedRequest } from './request.js';

export interface HandlerContext {
  registry: Registry;
  /** The agent answering, or undefined in-process: then there is no agent to ping, stop or describe. */
  agent?: { info: AgentInfo; stop(reason: string): void };
}

/**
 * The one request handler, used by the agent's socket server and by get-token's in-process fallback,
 * for requests parseRequest (request.ts) read and whose version it checked. Every reply is produced by
 * the work it reports; a request this process cannot serve is an error.
 */
export async function handleRequest<R extends ParsedRequest>(req: R, caller: Caller, ctx: HandlerContext): Promise<ReplyFor<R>>;
export async function handleRequest(req: ParsedRequest, caller: Caller, ctx: HandlerContext): Promise<Reply> {
  switch (req.op) {
    case 'exec': {
      const { flags } = req;
      const t = await ctx.registry.getToken({ flags, interactive: req.interactive, env: req.env, caller });
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
      // Also from a client of another version (parseRequest lets only this through): it leaves so that one can start its own.
      requireAgent(ctx).stop(`stop requested by a client of version ${req.version}`);
      return { t: 'stopping' };
  }
}

function requireAgent(ctx: HandlerContext): NonNullable<HandlerContext['agent']> {
  if (!ctx.agent) throw new OidcError('E_AGENT', 'no agent is running (this request was handled without one)', { hint: 'run `kubectl oidc agent start` to see why' });
  return ctx.agent;
}
