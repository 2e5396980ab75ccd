import { resolve } from 'node:path';
import { takeFlags } from '../cli.js';
import { TOKEN_FLAGS_HELP } from '../flags/help.js';
import { parseTokenFlags } from '../flags/parse.js';
import type { TokenFlags } from '../flags/table.js';
import { claimsOf, identityOf } from '../jwt.js';
import { getTokenArgsFrom, kubeconfigPath } from '../kubeconfig.js';
import { envelope } from '../protocol/wire.js';
import { pickExecEnv } from '../client/env.js';
import { send } from '../client/transport.js';
import type { Io } from '../io.js';

const HELP = `Usage: kubectl oidc login --oidc-issuer-url=URL --oidc-client-id=ID [flags]
       kubectl oidc login --context=NAME | --user=NAME [--kubeconfig=FILE] [flags]

Logs in now (a browser opens) and keeps the session for get-token, then says who you are:
subject, email, groups and until when the ID token is valid (what Dex's example-app was used for).
With --context or --user the get-token flags are read from that kubeconfig user's exec section
($KUBECONFIG's first file or ~/.kube/config); flags given here are added after them.

Examples:
  kubectl oidc login --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes
  kubectl oidc login --context=prod
  kubectl oidc login --user=oidc --force-refresh

Flags of login:
  --context=NAME                   read the get-token flags of this context's user
  --user=NAME                      read the get-token flags of this kubeconfig user
  --kubeconfig=FILE                the kubeconfig to read (default $KUBECONFIG's first file, ~/.kube/config)

${TOKEN_FLAGS_HELP}
`;

/** The get-token flags of login and setup (typed, and the arguments they came from): given directly, or read from a kubeconfig user with --context/--user. */
export async function tokenFlagsWithKubeconfig(io: Io, argv: string[]): Promise<{ help: true } | { help: false; flags: TokenFlags; args: string[] }> {
  const { values, rest } = takeFlags(argv, { strings: ['context', 'user', 'kubeconfig'], booleans: [] });
  let args = rest;
  if (typeof values.context === 'string' || typeof values.user === 'string') {
    const path = typeof values.kubeconfig === 'string' ? resolve(io.cwd, values.kubeconfig) : kubeconfigPath(io.env);
    const pick = { ...(typeof values.context === 'string' ? { context: values.context } : {}), ...(typeof values.user === 'string' ? { user: values.user } : {}) };
    args = [...(await getTokenArgsFrom(path, pick)).args, ...rest];
  }
  const parsed = parseTokenFlags(args, io.cwd, io.env);
  return parsed.help ? { help: true } : { help: false, flags: parsed.flags, args };
}

/**
 * Log in (or reuse the session; --force-refresh in `args` logs in anew) through the agent; the verified
 * ID token and its expiry. The same request as get-token's, with its command line `args`: interactive,
 * and for the ID token whatever --oidc-use-access-token says. `flags` (parsed here already) bound the wait.
 */
export async function loginNow(io: Io, login: { args: string[]; flags: TokenFlags }): Promise<{ token: string; expiresAt: number }> {
  return send(
    io,
    { ...envelope(), op: 'exec', argv: login.args, cwd: io.cwd, cluster: {}, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env: pickExecEnv(io.env), idToken: true },
    { timeoutMs: (login.flags.ui.authenticationTimeoutSec + 60) * 1000 },
  );
}

export async function loginCommand(io: Io): Promise<number> {
  const parsed = await tokenFlagsWithKubeconfig(io, io.argv);
  if (parsed.help) {
    io.stdout(HELP);
    return 0;
  }
  const reply = await loginNow(io, parsed);
  const who = identityOf(claimsOf(reply.token));
  io.stderr(
    `kubectl-oidc: logged in as ${who.email ?? who.subject ?? 'unknown user'}; ID token valid until ${new Date(reply.expiresAt * 1000).toISOString()}\n` +
      `  subject: ${who.subject ?? '(none)'}\n  email: ${who.email ?? '(none: add --oidc-extra-scope=email)'}\n` +
      `  groups: ${who.groups?.join(', ') ?? '(none: add --oidc-extra-scope=groups)'}\n`,
  );
  return 0;
}
