import { OidcError } from './errors.js';

export const V1 = 'client.authentication.k8s.io/v1';
export const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
export type ApiVersion = typeof V1 | typeof V1BETA1;

export interface ExecInfo {
  apiVersion: ApiVersion;
  interactive: boolean;
  /** `spec.cluster.config` (the kubeconfig cluster's exec extension), only with provideClusterInfo: true. */
  clusterConfig?: unknown;
  /** `spec.cluster.certificate-authority-data` (base64 PEM), only with provideClusterInfo: true. */
  clusterCaData?: string;
}

/**
 * Read KUBERNETES_EXEC_INFO. Absent means an old kubectl or a person running the command by hand:
 * answer v1beta1 (as kubelogin does) and take interactivity from the terminal.
 */
export function parseExecInfo(raw: string | undefined, stdinIsTTY = false): ExecInfo {
  if (raw === undefined || raw.trim() === '') return { apiVersion: V1BETA1, interactive: stdinIsTTY };
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw new OidcError('E_EXEC_INFO', 'KUBERNETES_EXEC_INFO is not valid JSON', {
      hint: 'it is set by kubectl; unset it when running the command by hand',
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new OidcError('E_EXEC_INFO', 'KUBERNETES_EXEC_INFO is not a JSON object');
  }
  const d = doc as Record<string, unknown>;
  if (d.kind !== undefined && d.kind !== 'ExecCredential') {
    throw new OidcError('E_EXEC_INFO', `KUBERNETES_EXEC_INFO has kind ${shown(d.kind)}, expected "ExecCredential"`);
  }
  if (d.apiVersion !== V1 && d.apiVersion !== V1BETA1) {
    throw new OidcError('E_EXEC_INFO', `KUBERNETES_EXEC_INFO asks for apiVersion ${shown(d.apiVersion)}; supported: ${V1}, ${V1BETA1}`, {
      hint: `set apiVersion: ${V1} in the kubeconfig's exec section`,
    });
  }
  const spec = d.spec;
  if (spec !== undefined && (typeof spec !== 'object' || spec === null || Array.isArray(spec))) {
    throw new OidcError('E_EXEC_INFO', 'KUBERNETES_EXEC_INFO spec is not an object');
  }
  const s = (spec ?? {}) as Record<string, unknown>;
  if (s.interactive !== undefined && typeof s.interactive !== 'boolean') {
    throw new OidcError('E_EXEC_INFO', 'KUBERNETES_EXEC_INFO spec.interactive is not a boolean');
  }
  const info: ExecInfo = { apiVersion: d.apiVersion, interactive: s.interactive === true };
  const cluster = s.cluster;
  if (cluster !== undefined && cluster !== null) {
    if (typeof cluster !== 'object' || Array.isArray(cluster)) throw new OidcError('E_EXEC_INFO', 'KUBERNETES_EXEC_INFO spec.cluster is not an object');
    const c = cluster as Record<string, unknown>;
    if (typeof c['certificate-authority-data'] === 'string') info.clusterCaData = c['certificate-authority-data'];
    if (c.config !== undefined && c.config !== null) info.clusterConfig = c.config;
  }
  return info;
}

/** A value from the document, quoted for a one-line message and cut short: the document may hold anything, of any size. */
function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * The one thing get-token prints. `expiresAt` is the ID token's exp (seconds); kubectl reuses the
 * credential until expirationTimestamp with no margin, so we report a little earlier than exp.
 */
export function renderExecCredential(apiVersion: ApiVersion, token: string, expiresAt: number): string {
  const early = Math.min(10, Math.max(0, Math.floor((expiresAt - Date.now() / 1000) / 10)));
  const expirationTimestamp = rfc3339((expiresAt - early) * 1000);
  return `${JSON.stringify({ kind: 'ExecCredential', apiVersion, spec: { interactive: false }, status: { expirationTimestamp, token } })}\n`;
}

/**
 * RFC 3339 in UTC, to the second. Not Date#toISOString: in V8 that first loads the local time zone
 * (ICU reads /etc/localtime and walks its links), about 1.5 ms on every kubectl command; the getUTC*
 * fields do not.
 */
export function rfc3339(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}Z`;
}
