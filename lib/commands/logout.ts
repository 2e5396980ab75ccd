import { OidcError } from '../errors.js';
import { parseTokenFlags, TOKEN_FLAGS_HELP } from '../config.js';
import { envelope } from '../protocol.js';
import { send } from '../client/transport.js';
import type { Io } from './io.js';

const HELP = `Usage: kubectl oidc logout --oidc-issuer-url=URL --oidc-client-id=ID [flags]

Forgets the session everywhere it may be: the agent's memory, the OS keyring and the token files.
The session is named by issuer, client ID, scopes and CA, whatever storage flags you give.

${TOKEN_FLAGS_HELP}
`;

export async function logoutCommand(io: Io): Promise<number> {
  const parsed = parseTokenFlags(io.argv, io.cwd, io.env);
  if (parsed.help) {
    io.stdout(HELP);
    return 0;
  }
  const { provider, cache } = parsed.flags;
  const r = await send(io, { ...envelope(), op: 'logout', provider, cache });
  for (const note of r.notes) io.stderr(`kubectl-oidc: note: ${note}\n`);
  const where = r.cleared.length > 0 ? `removed from ${r.cleared.join(', ')}` : 'no session was found';
  if (r.problems.length > 0) {
    throw new OidcError('E_STORE', `logout is not complete (${where}): ${r.problems.join('; ')}`, { hint: 'fix what is named and run logout again' });
  }
  io.stderr(`kubectl-oidc: logged out (${where})\n`);
  return 0;
}
