import { statSync } from 'node:fs';
import { scopesFor, type ProviderConfig } from '../config.js';
import { caDigestOf, loadCustomCAs } from '../oidc/ca.js';
import { sessionKey } from '../store/key.js';

/** A session's identity: its key (issuer, client, scopes, CA digest) and the CA certificates it was computed from. */
export interface Identity {
  key: string;
  cas: string[];
}

const MAX_REMEMBERED = 256;

/**
 * The one place a provider configuration becomes a session key, used for the registry, the store
 * and the lock alike. Reading and hashing CA files on every request would cost most of the agent's
 * time, so a fingerprint (the provider as sent, and each CA file's inode, size and mtime) remembers
 * the answer; a CA file changed in place changes the fingerprint and is read again.
 */
export function createIdentities() {
  const known = new Map<string, Identity>();
  return {
    resolve(provider: ProviderConfig): Identity {
      const fp = fingerprint(provider);
      const hit = fp === undefined ? undefined : known.get(fp);
      if (hit) return hit;
      const cas = loadCustomCAs(provider.caFiles, provider.caData);
      const id: Identity = {
        key: sessionKey({ issuerUrl: provider.issuerUrl, clientId: provider.clientId, scopes: scopesFor(provider), caDigest: caDigestOf(cas), insecure: provider.insecureSkipTlsVerify }),
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

function fingerprint(p: ProviderConfig): string | undefined {
  const files: string[] = [];
  for (const f of p.caFiles) {
    try {
      const st = statSync(f);
      files.push(`${st.ino}:${st.size}:${st.mtimeMs}`);
    } catch {
      return undefined; // let the slow path report it
    }
  }
  return JSON.stringify([p.issuerUrl, p.clientId, [...p.extraScopes].sort(), p.offlineAccess, p.insecureSkipTlsVerify, p.caFiles, p.caData, files]);
}
