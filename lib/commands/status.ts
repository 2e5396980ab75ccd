import { resolve } from 'node:path';
import { OidcError } from '../errors.js';
import { parseFlags } from '../cli.js';
import { envelope, type SessionStatus, type StatusReply } from '../protocol/wire.js';
import { rfc3339 } from '../exec-credential.js';
import { send } from '../client/transport.js';
import type { Io } from '../io.js';

const STATUS_HELP = `Usage: kubectl oidc status [-o table|json] [--token-cache-dir=DIR]...

Shows every session kubectl-oidc knows: issuer, client, session name (NAME, for a session the agent
holds), user, groups, ID token expiry, whether a refresh token is held, the next background refresh,
storage and the agent's pid. Never a token.
With an agent running it asks the agent (and lists token files it has not loaded); otherwise it
reads the token files itself and starts no agent. The OS keyring cannot be listed: a session kept
only there shows while the agent holds it.

Flags:
  -o, --output=FORMAT     table (default) or json ({"sessions": [...]})
  --token-cache-dir=DIR   also list token files in DIR (the default dir is always listed); repeatable
  --debug                 stack traces on stderr

Examples:
  kubectl oidc status
  kubectl oidc status -o json | jq '.sessions[] | {user, expiresAt}'
`;

const FLAGS = {
  output: { type: 'string', short: 'o' },
  'token-cache-dir': { type: 'string', multiple: true },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** One session as `status -o json` prints it: the same fields as the table, times in ISO 8601. */
export interface SessionView {
  issuer: string;
  client: string;
  /** --session-name; null when none was given, or for a session read only from its token file (the file does not record it). */
  sessionName: string | null;
  /** --username the session was keyed by (the password grant's user). */
  username: string | null;
  /** email when the ID token has one, else sub. */
  user: string | null;
  subject: string | null;
  email: string | null;
  groups: string[];
  expiresAt: string | null;
  hasRefreshToken: boolean;
  nextRefreshAt: string | null;
  storage: string;
  cacheDir: string | null;
  /** The agent holding the session; null for a session read from a token file with no agent involved. */
  agentPid: number | null;
  session: string;
}

export async function statusCommand(io: Io): Promise<number> {
  const { values } = parseFlags(io.argv, FLAGS, 'run `kubectl oidc status --help`');
  if (values.help) {
    io.stdout(STATUS_HELP);
    return 0;
  }
  const output = values.output ?? 'table';
  if (output !== 'table' && output !== 'json') throw new OidcError('E_USAGE', `--output must be table or json (got ${JSON.stringify(output)})`);
  const cacheDirs = (values['token-cache-dir'] ?? []).map((d) => resolve(io.cwd, d));
  // Status must not start an agent just to look: with none running, the stores are read here.
  const reply = await send(io, { ...envelope(), op: 'status', cacheDirs }, { startAgent: false, timeoutMs: 10_000 });
  const views = toViews(reply);
  if (output === 'json') {
    io.stdout(`${JSON.stringify({ sessions: views }, null, 2)}\n`);
  } else {
    io.stdout(renderTable(views));
    io.stderr(reply.agent ? `kubectl-oidc: agent pid ${reply.agent.pid}, version ${reply.agent.version}\n` : 'kubectl-oidc: no agent is running; read the token files\n');
  }
  for (const note of reply.notes) io.stderr(`kubectl-oidc: note: ${note}\n`);
  return 0;
}

const iso = (sec: number | undefined) => (sec === undefined ? null : rfc3339(sec * 1000));

/**
 * The one time format for people, in `status` and `agent status`: the RFC 3339 time (UTC, as in
 * `-o json`) and how far off it is, `2026-12-05T12:04:00Z (in 41m)`; `-` for none.
 */
export function when(t: string | null, nowMs: number): string {
  if (t === null) return '-';
  const s = Math.round((Date.parse(t) - nowMs) / 1000);
  const a = Math.abs(s);
  const d = a >= 86_400 ? `${Math.floor(a / 86_400)}d` : a >= 3600 ? `${Math.floor(a / 3600)}h${Math.floor((a % 3600) / 60)}m` : a >= 60 ? `${Math.floor(a / 60)}m` : `${a}s`;
  return `${t} (${s >= 0 ? `in ${d}` : `${d} ago`})`;
}

export function toViews(reply: StatusReply): SessionView[] {
  return reply.sessions.map((s: SessionStatus) => {
    return {
      issuer: s.issuerUrl,
      client: s.clientId,
      sessionName: s.sessionName ?? null,
      username: s.username ?? null,
      user: s.email ?? s.subject ?? null,
      subject: s.subject ?? null,
      email: s.email ?? null,
      groups: s.groups ?? [],
      expiresAt: iso(s.expiresAt),
      hasRefreshToken: s.hasRefreshToken,
      nextRefreshAt: iso(s.nextRefreshAt),
      storage: s.storage,
      cacheDir: s.cacheDir ?? null,
      agentPid: reply.agent && s.held ? reply.agent.pid : null,
      session: s.key.slice(0, 12),
    };
  });
}

/** The sessions as `status` prints them (and `agent status`, for the agent's own). */
export function renderTable(views: SessionView[], now = Date.now()): string {
  if (views.length === 0) return 'No sessions. Log in with `kubectl oidc login --oidc-issuer-url=… --oidc-client-id=…`.\n';
  const header = ['ISSUER', 'CLIENT', 'NAME', 'USER', 'GROUPS', 'ID TOKEN EXPIRES', 'REFRESH TOKEN', 'NEXT REFRESH', 'STORAGE', 'AGENT'];
  const rows = views.map((v) => [
    v.issuer,
    v.client,
    v.sessionName ?? '-',
    v.user ?? '-',
    v.groups.length > 0 ? v.groups.join(',') : '-',
    when(v.expiresAt, now),
    v.hasRefreshToken ? 'yes' : 'no',
    when(v.nextRefreshAt, now),
    v.cacheDir ? `${v.storage} (${v.cacheDir})` : v.storage,
    v.agentPid === null ? '-' : String(v.agentPid),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return `${[header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}
