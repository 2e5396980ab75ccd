import { parseExecInfo, renderExecCredential } from '../exec-credential.js';
import { parseTokenFlags, TOKEN_FLAGS_HELP, warnSecretInArgvOnce } from '../config.js';
import { envelope, pickEnv } from '../protocol.js';
import { send } from '../client/transport.js';
import type { Io } from './io.js';

export const GET_TOKEN_HELP = `Usage: kubectl-oidc get-token --oidc-issuer-url=URL --oidc-client-id=ID [flags]

Prints a client.authentication.k8s.io ExecCredential with a verified OIDC ID token.
kubectl runs it from the exec section of a kubeconfig user; see \`kubectl oidc --help\`.

${TOKEN_FLAGS_HELP}
`;

/**
 * get-token: what kubectl waits for on every command. This module and everything it imports
 * load only node:* modules (a test walks the import graph); the work happens in the agent.
 */
export async function getToken(io: Io): Promise<number> {
  const parsed = parseTokenFlags(io.argv, io.cwd, io.env);
  if (parsed.help) {
    io.stdout(GET_TOKEN_HELP);
    return 0;
  }
  warnSecretInArgvOnce(parsed, io.env, io.stderr);
  const { provider, ui, cache, forceRefresh } = parsed.flags;
  const info = parseExecInfo(io.env.KUBERNETES_EXEC_INFO, io.stdinIsTTY);
  const reply = await send(
    io,
    { ...envelope(), op: 'token', provider, ui, cache, forceRefresh, apiVersion: info.apiVersion, interactive: info.interactive, env: pickEnv(io.env) },
    { timeoutMs: (ui.authenticationTimeoutSec + 60) * 1000 },
  );
  io.stdout(renderExecCredential(info.apiVersion, reply.token, reply.expiresAt));
  return 0;
}
