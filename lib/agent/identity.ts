import { stat } from 'node:fs/promises';
import { OidcError } from '../errors.js';
import type { ProviderConfig, UiConfig } from '../flags/table.js';
import { scopesFor } from '../oidc/provider.js';
import { CA_READ_TIMEOUT_MS, caDigestOf, loadCustomCAs } from '../oidc/ca.js';
import { sessionKey } from '../store/key.js';

/**
 * What picks the person at the issuer besides the provider: --username and every
 * --oidc-auth-request-extra-params key and value (login_hint, connector_id, kc_idp_hint, hd...).
 */
export type AccountSelectors = Pick<UiConfig, 'username' | 'authRequestExtraParams'>;

/** A session's identity: its key (issuer, client, scopes, CA digest, account, session name) and the CA certificates it was computed from. */
export interface Identity {
  key: string;
  cas: string[];
}

const MAX_REMEMBERED = 256;

/**
 * The one place a provider configuration becomes a session key, used for the registry, the store
 * and the lock alike. Reading and hashing CA files on every request would cost most of the agent's
 * time, so a fingerprint (the provider as sent, and each CA file's inode, size and mtime) remembers
 * the answer; a CA file changed in place changes the fingerprint and is read again. Nothing here
 * blocks the event loop: a CA path that is a FIFO or on a hung mount fails this request only.
 */
export function createIdentities(now: () => number = Date.now) {
  const known = new Map<string, Identity>();
  const stats = new Map<string, { at: number; sig: Promise<string | undefined> }>();
  /** A CA file's identity, looked at (off the event loop) at most once a second: a changed file is noticed within that. */
  const signature = (file: string): Promise<string | undefined> => {
    const t = now();
    const hit = stats.get(file);
    if (hit && t - hit.at < STAT_REUSE_MS) return hit.sig;
    if (stats.size >= MAX_REMEMBERED) stats.delete(stats.keys().next().value!);
    const sig = statSignature(file);
    stats.set(file, { at: t, sig });
    sig.catch(() => stats.delete(file));
    return sig;
  };
  return {
    async resolve(provider: ProviderConfig, account: AccountSelectors): Promise<Identity> {
      const fp = await fingerprint(provider, account, signature);
      const hit = fp === undefined ? undefined : known.get(fp);
      if (hit) return hit;
      const cas = await loadCustomCAs(provider.caFiles, provider.caData);
      const id: Identity = {
        key: sessionKey({
          issuerUrl: provider.issuerUrl,
          clientId: provider.clientId,
          scopes: scopesFor(provider),
          caDigest: caDigestOf(cas),
          insecure: provider.insecureSkipTlsVerify,
          username: account.username,
          extraParams: account.authRequestExtraParams,
          sessionName: provider.sessionName,
        }),
        cas,
      };
      if (fp !== undefined) {
        if (known.size >= MAX_REMEMBERED) known.delete(known.keys().next().value!);
        known.set(fp, id);
      }
      return id;
    },
    get size(): number {
      return known.size;
    },
  };
}

const STAT_REUSE_MS = 1_000;

/** inode, size and mtime of a regular file; undefined for anything the slow path should look at and report. */
async function statSignature(f: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const st = await Promise.race([
      stat(f),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new OidcError('E_CONFIG', `looking at --certificate-authority ${f} took more than ${CA_READ_TIMEOUT_MS / 1000} s; giving up`, { hint: 'is it on a network mount that hangs? copy the CA to a local file' })), CA_READ_TIMEOUT_MS);
      }),
    ]);
    return st.isFile() ? `${st.ino}:${st.size}:${st.mtimeMs}` : undefined;
  } catch (err) {
    if (err instanceof OidcError) throw err;
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function fingerprint(p: ProviderConfig, a: AccountSelectors, signature: (file: string) => Promise<string | undefined>): Promise<string | undefined> {
  const files: string[] = [];
  for (const f of p.caFiles) {
    const sig = await signature(f);
    if (sig === undefined) return undefined; // let the slow path refuse or report it
    files.push(sig);
  }
  const extra = Object.entries(a.authRequestExtraParams).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify([p.issuerUrl, p.clientId, [...p.extraScopes].sort(), p.offlineAccess, p.insecureSkipTlsVerify, p.caFiles, p.caData, files, a.username ?? null, extra, p.sessionName ?? null]);
}
