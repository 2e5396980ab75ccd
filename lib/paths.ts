import { lstatSync, mkdirSync, chmodSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { OidcError } from './errors.js';

// node:* only: get-token loads this on every kubectl command. The cache dir (agent side only) is in lib/store/dirs.ts.

/** node:os, loaded when first needed: get-token on Linux and macOS never needs it (~0.25 ms per start). */
const os = () => process.getBuiltinModule('node:os');

export const APP = 'kubectl-oidc';

type Env = Record<string, string | undefined>;

/**
 * Where the agent's socket lives. Short on purpose: unix socket paths over ~100 bytes fail on macOS,
 * so never under os.tmpdir() there. Overridable for tests and unusual systems.
 */
export function runtimeDir(env: Env = process.env): string {
  const override = env.KUBECTL_OIDC_RUNTIME_DIR;
  if (override) {
    // The agent runs with cwd /, the clients with every cwd there is: a relative path would name a
    // different socket for each of them.
    if (!isAbsolute(override)) {
      throw new OidcError('E_CONFIG', `KUBECTL_OIDC_RUNTIME_DIR must be an absolute path (got ${JSON.stringify(override)})`, {
        hint: 'set it to an absolute path, for example $HOME/.kubectl-oidc-run, or unset it',
      });
    }
    return override;
  }
  if (process.platform === 'win32') return join(os().tmpdir(), APP);
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, APP);
  return `/tmp/${APP}-${process.getuid?.() ?? os().userInfo().username}`;
}

export function socketPath(env: Env = process.env): string {
  if (process.platform === 'win32') return `\\\\.\\pipe\\${APP}-${os().userInfo().username}`;
  return join(runtimeDir(env), 'agent.sock');
}

/** Where the agent writes its log: the XDG state dir on Linux, as env-paths names it for `log`. */
export function stateDir(env: Env = process.env): string {
  const home = os().homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Logs', APP);
  if (process.platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), APP, 'Log');
  return join(env.XDG_STATE_HOME || join(home, '.local', 'state'), APP);
}

/**
 * Create `dir` (0700) if missing, then refuse it unless it is a real directory owned by us and
 * closed to group and others. A socket or token in a directory someone else controls can be
 * swapped or read, so this is checked on every use, by the client too (one lstat).
 */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new OidcError('E_SOCKET_DIR', `cannot create ${dir}: ${(cause as Error).message}`, { cause });
  }
  checkPrivateDir(dir);
}

export function checkPrivateDir(dir: string): void {
  if (process.platform === 'win32') return;
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new OidcError('E_SOCKET_DIR', `${dir} is not a directory`, { hint: `remove it and try again` });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new OidcError('E_SOCKET_DIR', `${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); refusing to use it`, {
      hint: `remove it, or set KUBECTL_OIDC_RUNTIME_DIR to a directory of your own`,
    });
  }
  if ((st.mode & 0o077) !== 0) {
    throw new OidcError('E_SOCKET_DIR', `${dir} is open to other users (mode ${(st.mode & 0o777).toString(8)}); refusing to use it`, {
      hint: `run: chmod 700 ${dir}`,
    });
  }
}

/** For directories we create ourselves under a parent we trust (cache dirs): tighten instead of refusing. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') {
    const st = lstatSync(dir);
    if (!st.isDirectory()) throw new OidcError('E_STORE', `${dir} is not a directory`);
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  }
}
