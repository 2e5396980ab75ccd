/** KUBERNETES_EXEC_INFO as kubectl sets it, for e2e and unit tests. */

export type ExecApiVersion = 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';

/**
 * The environment kubectl gives an exec plugin, with the trailing newline kubectl writes: v1 unless
 * asked; `cluster` only as kubectl sends it with `provideClusterInfo: true`.
 */
export function execInfo(interactive: boolean, cluster?: unknown, apiVersion: ExecApiVersion = 'client.authentication.k8s.io/v1'): { KUBERNETES_EXEC_INFO: string } {
  const spec = { interactive, ...(cluster ? { cluster } : {}) };
  return { KUBERNETES_EXEC_INFO: `${JSON.stringify({ apiVersion, kind: 'ExecCredential', spec })}\n` };
}
