import { lstatSync, mkdirSync, chmodSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { APP, appDirs } from './app-dirs.js';
import { OidcError } from './errors.js';

// node:* only: get-token loads this on every kubectl command. The cache dir (agent side only) is in lib/store/dirs.ts.

/** node:os, loaded when first needed: get-token on Linux and macOS never needs it (~0.25 ms per start). */
const os = () => process.getBuiltinModule('node:os');

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
  const uid = process.getuid?.();
  const shared = `/tmp/${APP}-${uid ?? os().userInfo().username}`;
  const taken = squatted(shared, uid);
  return taken ? privateRuntimeDir(env, shared, taken) : shared;
}

/**
 * Unix socket paths are cut at 104 bytes on macOS (108 on Linux), the final NUL included: a socket in
 * a directory whose path is longer cannot be reached.
 */
export const MAX_SOCKET_PATH_BYTES = 103;

/**
 * Why the shared /tmp name is not ours, or undefined (absent, or our own directory: a wrong mode on it
 * is reported by checkPrivateDir with a chmod the user can run). Any user can create that name first.
 */
function squatted(dir: string, uid: number | undefined): string | undefined {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return undefined; // absent (the agent creates it), or unreadable: then the agent's check says why
  }
  if (st.isSymbolicLink()) return 'is a symlink';
  if (!st.isDirectory()) return 'is not a directory';
  if (uid !== undefined && st.uid !== uid) return `belongs to uid ${st.uid}`;
  return undefined;
}

/**
 * Where the socket goes when someone else holds /tmp/kubectl-oidc-<uid>: under the user's cache dir
 * (short enough for a socket path), else ~/.kubectl-oidc-run. Every client computes the same answer
 * from the same environment, so they all find the one agent.
 */
export function privateRuntimeDir(env: Env, shared: string, why: string): string {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : os().homedir();
  const cache = appDirs({ platform: process.platform, home, env, absoluteXdgOnly: true }).cache;
  for (const dir of [join(cache, 'run'), join(home, `.${APP}-run`)]) {
    if (Buffer.byteLength(join(dir, 'agent.sock')) <= MAX_SOCKET_PATH_BYTES) return dir;
  }
  throw new OidcError('E_SOCKET_DIR', `${shared} ${why}, and no private directory of yours gives a socket path under ${MAX_SOCKET_PATH_BYTES + 1} bytes`, {
    hint: 'set KUBECTL_OIDC_RUNTIME_DIR (or XDG_RUNTIME_DIR) to a short directory of your own, for example /run/user/$(id -u)',
  });
}

export function socketPath(env: Env = process.env): string {
  if (process.platform === 'win32') return `\\\\.\\pipe\\${APP}-${os().userInfo().username}`;
  return join(runtimeDir(env), 'agent.sock');
}

/** Where the agent writes its log: the XDG state dir on Linux, as env-paths names it for `log`. */
export function stateDir(env: Env = process.env): string {
  return appDirs({ platform: process.platform, home: os().homedir(), env }).log;
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
  if (st.isSymbolicLink()) {
    throw new OidcError('E_SOCKET_DIR', `${dir} is a symlink; refusing to follow it`, { hint: `remove it if it is yours, or set KUBECTL_OIDC_RUNTIME_DIR to a directory of your own` });
  }
  if (!st.isDirectory()) {
    throw new OidcError('E_SOCKET_DIR', `${dir} is not a directory`, { hint: `remove it if it is yours, or set KUBECTL_OIDC_RUNTIME_DIR to a directory of your own` });
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
