import { parseExecInfo, renderExecCredential } from '../exec-credential.js';
import { parseTokenFlags, TOKEN_FLAGS_HELP } from '../config.js';
import { envelope, pickEnv } from '../protocol.js';
import { send } from '../client/transport.js';
import type { Io } from './io.js';

export const GET_TOKEN_HELP = `Usage: kubectl-oidc get-token --oidc-issuer-url=URL --oidc-client-id=ID [flags]

Prints a client.authentication.k8s.io ExecCredential with a verified OIDC ID token.
kubectl runs it from the exec section of a kubeconfig user; see \`kubectl oidc --help\`.

Examples:
  kubectl-oidc get-token --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes
  kubectl config set-credentials oidc --exec-api-version=client.authentication.k8s.io/v1 \\
    --exec-command=kubectl-oidc --exec-arg=get-token \\
    --exec-arg=--oidc-issuer-url=https://dex.example.com/dex --exec-arg=--oidc-client-id=kubernetes \\
    --exec-interactive-mode=IfAvailable

${TOKEN_FLAGS_HELP}
`;

/**
 * get-token: what kubectl waits for on every command. This module and everything it imports
 * load only node:* modules (a test walks the import graph); the work happens in the agent.
 */
export async function getToken(io: Io): Promise<number> {
  if (io.argv.includes('--help') || io.argv.includes('-h')) {
    io.stdout(GET_TOKEN_HELP);
    return 0;
  }
  const raw = io.env.KUBERNETES_EXEC_INFO;
  const info = parseExecInfo(raw, raw === undefined || raw.trim() === '' ? await io.stdinIsTTY() : false);
  // With provideClusterInfo: true, the cluster's exec extension may carry the issuer settings.
  const parsed = parseTokenFlags(io.argv, io.cwd, io.env, { config: info.clusterConfig, ...(info.clusterCaData ? { caData: info.clusterCaData } : {}) });
  if (parsed.help) {
    io.stdout(GET_TOKEN_HELP);
    return 0;
  }
  const reply = await send(
    io,
    { ...envelope(), op: 'token', ...parsed.flags, apiVersion: info.apiVersion, interactive: info.interactive, env: pickEnv(io.env) },
    { timeoutMs: (parsed.flags.ui.authenticationTimeoutSec + 60) * 1000 },
  );
  io.stdout(renderExecCredential(info.apiVersion, reply.token, reply.expiresAt));
  return 0;
}
