import { parseTokenFlags, TOKEN_FLAGS_HELP, warnSecretInArgvOnce } from '../config.js';
import { claimsOf, identityOf } from '../jwt.js';
import { envelope, pickEnv } from '../protocol.js';
import { send } from '../client/transport.js';
import type { Io } from './io.js';

const HELP = `Usage: kubectl oidc login --oidc-issuer-url=URL --oidc-client-id=ID [flags]

Logs in now (a browser opens) and keeps the session for get-token, then says who you are.

Example:
  kubectl oidc login --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes

${TOKEN_FLAGS_HELP}
`;

export async function loginCommand(io: Io): Promise<number> {
  const parsed = parseTokenFlags(io.argv, io.cwd, io.env);
  if (parsed.help) {
    io.stdout(HELP);
    return 0;
  }
  warnSecretInArgvOnce(parsed, io.env, io.stderr);
  const { provider, ui, cache, forceRefresh } = parsed.flags;
  const reply = await send(
    io,
    { ...envelope(), op: 'token', provider, ui, cache, forceRefresh, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env: pickEnv(io.env) },
    { timeoutMs: (ui.authenticationTimeoutSec + 60) * 1000 },
  );
  const who = identityOf(claimsOf(reply.token));
  io.stderr(`kubectl-oidc: logged in as ${who.email ?? who.subject ?? 'unknown user'}; ID token valid until ${new Date(reply.expiresAt * 1000).toISOString()}\n`);
  return 0;
}
