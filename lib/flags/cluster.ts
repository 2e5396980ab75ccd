import type { ClusterInfo } from './table.js';
import { obj } from './validate.js';

/** The kubeconfig cluster extension kubectl passes to the plugin with provideClusterInfo: true. */
export const CLUSTER_EXTENSION = 'client.authentication.k8s.io/exec';

const listOf = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/**
 * The provider settings a cluster's exec extension gives, keyed by flag names (docs/multi-cluster.md);
 * parse.ts uses each only where the user entry's flags leave it out. CA file paths are as written (the
 * caller resolves them); with `use-cluster-certificate-authority: true` the cluster's own CA joins caData.
 */
export function clusterSettings(cluster: ClusterInfo): {
  /** The extension has any setting at all (for the message when the issuer is missing). */
  present: boolean;
  issuerUrl?: string;
  clientId?: string;
  extraScopes: string[];
  caFiles: string[];
  caData: string[];
} {
  const ext = obj(cluster.config);
  let caData = listOf(ext['certificate-authority-data']);
  const shared = ext['use-cluster-certificate-authority'];
  if ((shared === true || shared === 'true') && cluster.caData) caData = [...caData, cluster.caData];
  return {
    present: Object.keys(ext).length > 0,
    issuerUrl: typeof ext['oidc-issuer-url'] === 'string' ? ext['oidc-issuer-url'] : undefined,
    clientId: typeof ext['oidc-client-id'] === 'string' ? ext['oidc-client-id'] : undefined,
    extraScopes: listOf(ext['oidc-extra-scope']).flatMap((s) => s.split(',')).filter(Boolean),
    caFiles: listOf(ext['certificate-authority']),
    caData,
  };
}
