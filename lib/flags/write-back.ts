import { homedir } from 'node:os';
import { parseFlags } from '../cli.js';
import { expandHome, normalizeGoFlags } from './go-compat.js';
import { TOKEN_FLAGS } from './table.js';

/** Flags whose value is a path (kubelogin expands ~ in them): written back absolute. */
const PATH_FLAGS: ReadonlySet<string> = new Set(['oidc-client-secret-file', 'certificate-authority', 'local-server-cert', 'local-server-key', 'token-cache-dir']);

/** Flags of one run that `setup` does not write into a kubeconfig (which every kubectl command runs), and why. */
export const NOT_WRITTEN: Readonly<Partial<Record<keyof typeof TOKEN_FLAGS, string>>> = {
  help: 'not a setting',
  debug: "setup's own diagnostics (add --debug to the kubeconfig by hand to debug every kubectl run)",
  'force-refresh': 'it would refresh the token on every kubectl command',
  password: 'a secret, which argv shows to every local user: set KUBECTL_OIDC_PASSWORD where kubectl runs, or get-token asks at the terminal',
};

/**
 * The get-token arguments that reproduce exactly the flags the user gave, for `setup` to write into a
 * kubeconfig: every flag in TOKEN_FLAGS order, Go-style spellings normalised (`--x=true`, `a,b` lists),
 * paths made absolute, NOT_WRITTEN flags and klog's flags left out. A secret from a file stays a file
 * flag and one from KUBECTL_OIDC_CLIENT_SECRET stays in the environment: `notes` says what must be set.
 */
export function tokenArgsToWrite(argv: string[], cwd: string, env: Record<string, string | undefined>): { args: string[]; notes: string[] } {
  const home = env.HOME || homedir();
  const { args: normalized } = normalizeGoFlags(argv, []);
  const { values } = parseFlags(normalized, TOKEN_FLAGS, 'run `kubectl-oidc setup --help` for the flags');
  const args: string[] = [];
  const notes: string[] = [];
  const given = values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  for (const name of Object.keys(TOKEN_FLAGS) as (keyof typeof TOKEN_FLAGS)[]) {
    const v = given[name];
    if (v === undefined || v === false) continue;
    const why = NOT_WRITTEN[name];
    if (why !== undefined) {
      if (name === 'password') notes.push(`--password is not written into the kubeconfig: ${why}`);
      continue;
    }
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one === true) args.push(`--${name}`);
      else if (typeof one === 'string') args.push(`--${name}=${PATH_FLAGS.has(name) ? expandHome(one, cwd, home) : one}`);
    }
  }
  if (values['oidc-client-secret'] === undefined && values['oidc-client-secret-file'] === undefined && env.KUBECTL_OIDC_CLIENT_SECRET) {
    notes.push('the client secret came from KUBECTL_OIDC_CLIENT_SECRET and is not written into the kubeconfig: set it wherever kubectl runs');
  }
  return { args, notes };
}
