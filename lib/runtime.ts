/**
 * What runs this process. One check, used wherever the answer changes what we do (how the agent is
 * started, what `agent install` writes): kubectl-oidc is either the release's compiled executable
 * (`bun build --compile`, scripts/bun-compile.mjs) or a script run by a runtime (the npm package on Node).
 */

interface BunGlobal {
  isStandaloneExecutable?: boolean;
}

/**
 * Whether this process is the compiled executable: then `process.execPath` is kubectl-oidc itself, the
 * agent is inside it, and there is no script to pass (Bun's `process.argv[1]` is a path inside the
 * executable's own file system, `/$bunfs/root/…`, which nothing else can open).
 */
export function isCompiledExecutable(): boolean {
  return (globalThis as { Bun?: BunGlobal }).Bun?.isStandaloneExecutable === true;
}

/** Whether the runtime is Bun (compiled or `bun script`): Bun's own APIs are there. */
export function isBun(): boolean {
  return typeof process.versions.bun === 'string';
}

/** The command line that runs this kubectl-oidc again: the executable alone, or the runtime and the script. */
export function selfCommand(): string[] {
  return isCompiledExecutable() ? [process.execPath] : [process.execPath, process.argv[1] ?? ''];
}

/**
 * The agent's malloc setting, in its start environment (client/agent-client.ts agentEnv) and in what
 * `agent install` writes (commands/agent-install.ts); here so both sides and the agent may import it.
 * glibc's MALLOC_TRIM_THRESHOLD_, unless the user set it: V8's compiler threads malloc tens of MiB in
 * their own arenas, and glibc's adaptive threshold keeps ~10 MiB of it resident after it is freed. The
 * agent drops it from its own env at start (agent/heap.ts), so what it spawns (a browser) does not inherit it.
 */
export const AGENT_MALLOC_ENV = { MALLOC_TRIM_THRESHOLD_: '131072' } as const;
