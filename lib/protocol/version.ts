import { OidcError } from '../errors.js';
import { VERSION } from '../version.js';

/** The version of the frames (wire.ts): raised when an agent could no longer read a client's requests as they were. */
export const PROTOCOL_VERSION = 3;
/**
 * The oldest request protocol this agent still reads. An agent serves a client older than itself
 * whose protocol is in [MIN_CLIENT_PROTOCOL, PROTOCOL_VERSION], so two installed copies (the krew
 * executable and the npm package, or an upgrade while kubectl runs) share one agent. Raise it only
 * when this agent can no longer read an older client's requests; such clients then work in-process.
 */
export const MIN_CLIENT_PROTOCOL = 3;

/**
 * Whether this agent serves a client of version `version` speaking protocol `v`: its own version, or an
 * older one whose protocol it still reads. A newer client is refused (E_VERSION_MISMATCH, with this
 * agent's version), so that it replaces this agent with its own; see `mismatchAction` on the client.
 */
export function servesClient(v: number, version: string, own: { version: string; protocol: number } = { version: VERSION, protocol: PROTOCOL_VERSION }): boolean {
  const cmp = compareVersions(version, own.version);
  if (cmp > 0) return false;
  if (cmp === 0) return v === own.protocol;
  return v >= MIN_CLIENT_PROTOCOL && v <= own.protocol;
}

export function versionMismatch(v: number, version: string): OidcError {
  const printable = version.replace(/[^0-9A-Za-z.+-]/g, '?').slice(0, 64);
  return new OidcError('E_VERSION_MISMATCH', `the running agent is version ${VERSION} (protocol ${PROTOCOL_VERSION}), this client ${printable} (protocol ${v})`);
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/;

/**
 * Semantic-version order (semver.org §11): negative if a < b, 0 if equal, positive if a > b. Build
 * metadata is ignored; a pre-release sorts before its release. A string that is not a version sorts
 * before every version (an agent too old or too odd to say is replaced, never trusted as newer).
 */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER.exec(a);
  const pb = SEMVER.exec(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : a === b ? 0 : a < b ? -1 : 1;
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1;
  const xa = ra.split('.');
  const xb = rb.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const x = xa[i];
    const y = xb[i];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
