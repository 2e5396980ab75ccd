import { parseExecInfo, renderExecCredential } from '../exec-credential.js';
import { TOKEN_FLAGS_HELP } from '../flags/help.js';
import { envelope } from '../protocol/wire.js';
import { pickExecEnv } from '../client/env.js';
import { send } from '../client/transport.js';
import type { Io } from '../io.js';

const GET_TOKEN_HELP = `Usage: kubectl-oidc get-token --oidc-issuer-url=URL --oidc-client-id=ID [flags]

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
 * load only node:* modules (a test walks the import graph); the work, flag parsing included, happens
 * in the agent.
 */
export async function getToken(io: Io): Promise<number> {
  if (io.argv.some((a) => HELP.test(a))) {
    io.stdout(GET_TOKEN_HELP);
    return 0;
  }
  const raw = io.env.KUBERNETES_EXEC_INFO;
  const info = parseExecInfo(raw, raw === undefined || raw.trim() === '' ? await io.stdinIsTTY() : false);
  const cluster = { ...(info.clusterConfig !== undefined ? { config: info.clusterConfig } : {}), ...(info.clusterCaData ? { caData: info.clusterCaData } : {}) };
  // The command line goes to the agent as it is: it parses the flags (and says what is wrong with them).
  const reply = await send(
    io,
    { ...envelope(), op: 'exec', argv: io.argv, cwd: io.cwd, cluster, apiVersion: info.apiVersion, interactive: info.interactive, env: pickExecEnv(io.env) },
    { timeoutMs: (loginTimeoutSec(io.argv) + 60) * 1000 },
  );
  io.stdout(renderExecCredential(info.apiVersion, reply.token, reply.expiresAt));
  return 0;
}

/** --help, -h, and the Go forms kubelogin accepts (-help, --help=true). */
const HELP = /^--?h(elp)?(=true)?$/;

/** --authentication-timeout-sec (180 by default), to bound the wait for the agent; the agent checks the value. */
function loginTimeoutSec(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?authentication-timeout-sec(?:=(.*))?$/.exec(argv[i]!);
    if (!m) continue;
    const n = Number(m[1] ?? argv[i + 1]);
    return Number.isFinite(n) && n > 0 ? Math.min(n, 86_400) : 180;
  }
  return 180;
}
