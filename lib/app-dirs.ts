import { isAbsolute, join } from 'node:path';

/**
 * env-paths' rule, written once: where kubectl-oidc's cache and log dirs live on each OS. macOS:
 * ~/Library/Caches and ~/Library/Logs; Windows: %LOCALAPPDATA%\kubectl-oidc\Cache and \Log; any other
 * OS: $XDG_CACHE_HOME and $XDG_STATE_HOME (~/.cache, ~/.local/state), as the env-paths package names
 * `cache` and `log` (with no suffix).
 *
 * node:path only, and the OS, home and environment come from the caller: get-token loads this on every
 * kubectl command, and scripts/build.mjs inlines it into the npm entry (cmd/npm-entry.cjs), which runs
 * before any bundle is loaded. Its users: lib/store/dirs.ts (the token cache), lib/paths.ts (the agent
 * log, the private socket dir) and the npm entry (the compile cache).
 */

export const APP = 'kubectl-oidc';

export interface AppDirs {
  cache: string;
  log: string;
}

export interface AppDirsInput {
  platform: string;
  /** The home dir as the caller found it (env-paths: os.homedir()). */
  home: string;
  env: Record<string, string | undefined>;
  /**
   * Ignore a relative XDG_* value, as the XDG Base Directory spec says (the client side: a relative
   * one would name another dir from each cwd). Otherwise it is used as it is, as env-paths does.
   */
  absoluteXdgOnly?: boolean;
}

export function appDirs({ platform, home, env, absoluteXdgOnly = false }: AppDirsInput): AppDirs {
  if (platform === 'darwin') return { cache: join(home, 'Library', 'Caches', APP), log: join(home, 'Library', 'Logs', APP) };
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA || join(home, 'AppData', 'Local');
    return { cache: join(local, APP, 'Cache'), log: join(local, APP, 'Log') };
  }
  const xdg = (name: string, ...fallback: string[]) => {
    const v = env[name];
    return v && (!absoluteXdgOnly || isAbsolute(v)) ? v : join(home, ...fallback);
  };
  return { cache: join(xdg('XDG_CACHE_HOME', '.cache'), APP), log: join(xdg('XDG_STATE_HOME', '.local', 'state'), APP) };
}
