import { resolve } from 'node:path';
import { OidcError } from '../errors.js';
import { parseFlags } from '../cli.js';
import { TOKEN_FLAGS_HELP } from '../flags/help.js';
import { parseTokenFlags } from '../flags/parse.js';
import { envelope, type LogoutReply } from '../protocol/wire.js';
import { pickEnv } from '../client/env.js';
import { send } from '../client/transport.js';
import type { Io } from '../io.js';

const LOGOUT_HELP = `Usage: kubectl oidc logout --oidc-issuer-url=URL --oidc-client-id=ID [flags]
       kubectl oidc logout --all [--token-cache-dir=DIR]... [--certificate-authority=FILE]...

Forgets the session everywhere it may be: the agent's memory, the OS keyring and the token files.
The session is named by issuer, client ID, scopes, CA, --username, --oidc-auth-request-extra-params
and --session-name (give the same ones as the kubeconfig user), whatever storage flags you give.
Its refresh token is first revoked at the issuer's revocation_endpoint (RFC 7009), when the issuer
has one; if that fails, logout says so and still forgets the session here.

--all forgets every session the agent holds and every token file in the default dir (and each
--token-cache-dir). A session found only in a file is revoked at the issuer and client its ID token
names, trusting the system roots and any --certificate-authority given. The OS keyring cannot be
listed: a session kept only there is left unless the agent holds it (log out of it with its flags).

Examples:
  kubectl oidc logout --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes
  kubectl oidc logout --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes --session-name=work
  kubectl oidc logout --all

${TOKEN_FLAGS_HELP}
`;

const ALL_FLAGS = {
  all: { type: 'boolean' },
  'token-cache-dir': { type: 'string', multiple: true },
  'certificate-authority': { type: 'string', multiple: true },
  'certificate-authority-data': { type: 'string', multiple: true },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function logoutCommand(io: Io): Promise<number> {
  if (io.argv.includes('--all')) return logoutAll(io);
  const parsed = parseTokenFlags(io.argv, io.cwd, io.env);
  if (parsed.help) {
    io.stdout(LOGOUT_HELP);
    return 0;
  }
  const { provider, cache } = parsed.flags;
  // The username and extra params pick the session as much as the provider does; the password never travels for a logout.
  const { password: _password, ...ui } = parsed.flags.ui;
  // No agent running is no reason to start one: the stores are cleared from here.
  const r = await send(io, { ...envelope(), op: 'logout', provider, ui, cache, env: pickEnv(io.env) }, { startAgent: false, timeoutMs: 60_000 });
  return report(io, r);
}

async function logoutAll(io: Io): Promise<number> {
  const { values } = parseFlags(io.argv, ALL_FLAGS, 'with --all, only --token-cache-dir and --certificate-authority(-data) apply; run `kubectl oidc logout --help`');
  if (values.help) {
    io.stdout(LOGOUT_HELP);
    return 0;
  }
  const r = await send(
    io,
    {
      ...envelope(),
      op: 'logout-all',
      cacheDirs: (values['token-cache-dir'] ?? []).map((d) => resolve(io.cwd, d)),
      caFiles: (values['certificate-authority'] ?? []).map((f) => resolve(io.cwd, f)),
      caData: values['certificate-authority-data'] ?? [],
      env: pickEnv(io.env),
    },
    { startAgent: false, timeoutMs: 120_000 },
  );
  return report(io, r);
}

function report(io: Io, r: LogoutReply): number {
  for (const note of r.notes) io.stderr(`kubectl-oidc: note: ${note}\n`);
  for (const where of r.revoked) io.stderr(`kubectl-oidc: revoked the refresh token at ${where}\n`);
  for (const why of r.notRevoked) io.stderr(`kubectl-oidc: warning: the refresh token was not revoked at the issuer: ${why}\n`);
  const where = r.cleared.length > 0 ? `removed from ${r.cleared.join(', ')}` : 'no session was found';
  if (r.problems.length > 0) {
    throw new OidcError('E_STORE', `logout is not complete (${where}): ${r.problems.join('; ')}`, { hint: 'fix what is named and run logout again' });
  }
  io.stderr(`kubectl-oidc: logged out (${where})\n`);
  return 0;
}
