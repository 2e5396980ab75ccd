/**
 * Where kubectl-oidc's directories land, for every HOME / XDG_* / LOCALAPPDATA combination and each OS
 * rule (linux, darwin, win32, and freebsd for "any other Unix"), as each user of env-paths' rule computes
 * them: the agent's token cache (lib/store/dirs.ts cacheDir), the agent log (lib/paths.ts stateDir), the
 * client's private socket dir (lib/paths.ts privateRuntimeDir) and the npm entry's compile cache (the
 * built dist/kubectl-oidc.cjs, run in a sandbox with a stand-in process). Also what the env-paths
 * package itself answers for `cache` and `log`.
 *
 * One child process per HOME: env-paths reads the home dir once, when it is loaded.
 * `node build/test/support/app-dirs-probe.js --table` prints the whole table (test/fixtures/app-dirs.json).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SELF = fileURLToPath(import.meta.url);

export const HOMES: (string | null)[] = ['/home/u', '', 'rel', null, `/${'h'.repeat(70)}`, `/${'h'.repeat(100)}`];
export const PLATFORMS = ['linux', 'darwin', 'win32', 'freebsd'] as const;
const XDG: Record<string, Record<string, string>> = {
  unset: {},
  empty: { XDG_CACHE_HOME: '', XDG_STATE_HOME: '' },
  absolute: { XDG_CACHE_HOME: '/xdg/cache', XDG_STATE_HOME: '/xdg/state' },
  relative: { XDG_CACHE_HOME: 'xc', XDG_STATE_HOME: 'xs' },
};
const LOCALAPPDATA: Record<string, Record<string, string>> = { unset: {}, set: { LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' } };
const VARS = ['XDG_CACHE_HOME', 'XDG_STATE_HOME', 'LOCALAPPDATA', 'APPDATA'];

type Case = { platform: string; xdg: string; localAppData: string };
/** Each a path, null (not used in that case), or `throws <code>`. */
export type Row = { cache: string; log: string; run: string | null; entry: string | null; envPathsCache: string; envPathsLog: string };

/** `home|platform|xdg|localAppData`; HOME unset is `-`. */
export const caseName = (home: string | null, c: Case) => `${home ?? '-'}|${c.platform}|${c.xdg}|${c.localAppData}`;

function cases(): Case[] {
  return PLATFORMS.flatMap((platform) => Object.keys(XDG).flatMap((xdg) => Object.keys(LOCALAPPDATA).map((localAppData) => ({ platform, xdg, localAppData }))));
}

/** The whole table: one child process per HOME. */
export function probeAll(): Record<string, Row> {
  const table: Record<string, Row> = {};
  for (const home of HOMES) {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    if (home !== null) env.HOME = home;
    const out = execFileSync(process.execPath, [SELF, '--cases'], { env, encoding: 'utf8', cwd: ROOT });
    Object.assign(table, JSON.parse(out));
  }
  return table;
}

/** The compile-cache dir the built npm entry would enable, or null; nothing is created, nothing is run. */
function entryDir(src: string, platform: string, env: Record<string, string>): string | null {
  let dir: string | null = null;
  const realRequire = createRequire(import.meta.url);
  const fs = { mkdirSync() {}, lstatSync: () => ({ isDirectory: () => true, uid: 4242, mode: 0o40700 }) };
  const require = (m: string): unknown => {
    if (m === 'node:module') return { enableCompileCache: (d: string) => void (dir = d) };
    if (m === 'node:fs') return fs;
    if (m === './cli.cjs') return {};
    if (m.startsWith('node:')) return realRequire(m);
    throw new Error(`the npm entry requires ${m}`);
  };
  const proc = { platform, env: { ...env }, getuid: () => 4242, stderr: { write() {} }, versions: process.versions };
  const module = { exports: {} };
  runInNewContext(src.replace(/^#![^\n]*\n/, ''), { require, process: proc, module, exports: module.exports, __filename: 'kubectl-oidc.cjs', __dirname: '.' });
  return dir;
}

async function probe(): Promise<Record<string, Row>> {
  const { cacheDir } = await import('../../lib/store/dirs.js');
  const { stateDir, privateRuntimeDir } = await import('../../lib/paths.js');
  const envPaths = (await import('env-paths')).default;
  const entrySrc = readFileSync(join(ROOT, 'dist/kubectl-oidc.cjs'), 'utf8');
  const home = process.env.HOME ?? null;
  // HOME unset: the home dir comes from the password database, which differs from machine to machine.
  const pw = home === null ? userInfo().homedir : undefined;
  const clean = (v: string | null) => (v !== null && pw ? v.split(pw).join('~passwd') : v);
  const attempt = (f: () => string | null) => {
    try {
      return clean(f());
    } catch (err) {
      return `throws ${(err as { code?: string }).code ?? (err as Error).message}`;
    }
  };
  const realPlatform = process.platform;
  const rows: Record<string, Row> = {};
  for (const c of cases()) {
    const vars = { ...XDG[c.xdg], ...LOCALAPPDATA[c.localAppData] };
    const env: Record<string, string> = { ...(home !== null ? { HOME: home } : {}), ...vars };
    for (const k of VARS) delete process.env[k];
    Object.assign(process.env, vars);
    Object.defineProperty(process, 'platform', { value: c.platform, configurable: true });
    try {
      const paths = envPaths('kubectl-oidc', { suffix: '' });
      rows[caseName(home, c)] = {
        cache: attempt(() => cacheDir())!,
        log: attempt(() => stateDir(env))!,
        // win32 never gets there: its socket is a named pipe, and runtimeDir answers before.
        run: c.platform === 'win32' ? null : attempt(() => privateRuntimeDir(env, '/tmp/kubectl-oidc-1', 'is taken')),
        entry: attempt(() => entryDir(entrySrc, c.platform, env)),
        envPathsCache: clean(paths.cache)!,
        envPathsLog: clean(paths.log)!,
      };
    } finally {
      Object.defineProperty(process, 'platform', { value: realPlatform, configurable: true });
    }
  }
  return rows;
}

if (process.argv[1] === SELF) {
  if (process.argv[2] === '--cases') process.stdout.write(JSON.stringify(await probe()));
  else if (process.argv[2] === '--table') {
    const rows = Object.entries(probeAll()).map(([name, row]) => `  ${JSON.stringify(name)}: ${JSON.stringify(row)}`);
    process.stdout.write(`{\n${rows.join(',\n')}\n}\n`);
  }
}
