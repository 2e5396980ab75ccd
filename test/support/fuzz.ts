/**
 * What the fuzz tests share (test/integration/fuzz.test.ts, test/e2e/socket.test.ts). A test file never imports
 * another test file: node:test registers tests on import, so they would run twice.
 */

/** KUBECTL_OIDC_FUZZ_SEED=N reproduces a run; every fuzz test prints the seed it used. */
export const FUZZ_SEED = Number(process.env.KUBECTL_OIDC_FUZZ_SEED ?? 11);

/** mulberry32: small, seeded, good enough to pick garbage. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
