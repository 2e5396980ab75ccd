/**
 * `kubectl oidc agent install|uninstall`: run the agent at login under the user's service manager
 * (a systemd user unit on Linux, a launchd agent on macOS), so the first kubectl command of the day
 * finds it up. get-token still starts one on demand when none runs; this only saves that start.
 *
 * The unit and the plist are written from the functions below; plugin-manifest/ holds the same text
 * for a hand install (a test keeps them equal).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { OidcError } from '../errors.js';
import { probeSocket } from '../socket.js';
import { stopAgent } from '../client/agent-client.js';
import { socketPath } from '../paths.js';
import { AGENT_MALLOC_ENV, isCompiledExecutable } from '../runtime.js';
import { parseFlags } from '../cli.js';
import type { Io } from '../io.js';

export const SYSTEMD_UNIT = 'kubectl-oidc-agent.service';
const LAUNCHD_LABEL = 'kubectl-oidc.agent';

type Env = Record<string, string | undefined>;

export interface ServiceFile {
  manager: 'systemd' | 'launchd';
  /** Where the unit or plist goes. */
  path: string;
  text: string;
  /** Directories the service needs that nobody else creates (launchd does not create its log's). */
  dirs: string[];
  /** Commands that load and start it, and that stop and unload it. */
  enable: string[][];
  disable: string[][];
}

/**
 * What no unit or plist may carry: control characters (a newline would start a new directive in a
 * unit; XML 1.0 cannot hold most of them at all, and normalises CR), U+FFFD (a path that was not
 * UTF-8, so its real bytes are unknown) and lone surrogates (not encodable as UTF-8).
 */
const UNWRITABLE = /[\u0000-\u001f\u007f\ufffd\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function refuseUnwritable(value: string, where: string): void {
  const bad = UNWRITABLE.exec(value);
  if (!bad) return;
  const what = bad[0] === '\n' ? 'a newline' : bad[0] === '\ufffd' ? 'bytes that are not UTF-8' : /[\ud800-\udfff]/.test(bad[0]) ? 'text that is not UTF-8' : 'a control character';
  throw new OidcError('E_CONFIG', `cannot write the ${where}: the path ${JSON.stringify(value)} contains ${what}, which it cannot hold safely`, {
    hint: 'install kubectl-oidc under a path without control characters, or run the agent on demand (get-token starts it)',
  });
}

/**
 * One word of an ExecStart= line, as systemd reads it back (systemd.service "Command lines",
 * systemd.syntax "Quoting"): specifiers are expanded everywhere, so % is doubled; a word with
 * anything but plain characters is double-quoted with C escapes for \ and ". Variables ($FOO,
 * ${FOO}, $$ for a dollar) are expanded in the arguments but not in the executable's path (the path
 * keeps its $ as it is: "$$" there names a file with two).
 */
function systemdWord(word: string, isPath: boolean): string {
  refuseUnwritable(word, 'systemd unit');
  let out = word.replace(/%/g, '%%');
  if (!isPath) out = out.replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(out) ? out : `"${out.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * systemd refuses an executable path with a quote or a backslash in it, however escaped ("Executable
 * name contains special characters"): such a path (a home like /home/o'brien) is run through env,
 * as an argument, where systemd's quoting holds it. env would take a word with `=` for a variable.
 */
function execStart(command: string[]): string {
  const [exe, ...args] = command;
  if (exe === undefined) throw new OidcError('E_INTERNAL', 'no command for the unit');
  refuseUnwritable(exe, 'systemd unit');
  if (!/["'\\]/.test(exe)) return [systemdWord(exe, true), ...args.map((a) => systemdWord(a, false))].join(' ');
  if (exe.includes('=')) {
    throw new OidcError('E_CONFIG', `cannot write the systemd unit: the path ${JSON.stringify(exe)} has a quote or backslash (systemd runs no such path) and an = (so env cannot run it either)`, {
      hint: 'install kubectl-oidc under a plainer path, or run the agent on demand (get-token starts it)',
    });
  }
  return ['/usr/bin/env', ...command].map((w, i) => systemdWord(w, i === 0)).join(' ');
}

/** The systemd user unit that runs `<command> agent` for the whole login session. */
export function systemdUnit(command: string[]): string {
  return `[Unit]
Description=kubectl-oidc token agent (OIDC login for kubectl)
Documentation=https://github.com/kubectl-oidc/kubectl-oidc

[Service]
Type=simple
# No idle exit: the service manager owns this agent. Its log goes to the journal
# (journalctl --user -u ${SYSTEMD_UNIT}). A client of a newer version stops it
# and starts its own; the unit runs the new one at the next login.
ExecStart=${execStart([...command, 'agent', '--idle-timeout=0'])}
# glibc returns freed memory sooner (see agentEnv in lib/client/agent-client.ts).
${Object.entries(AGENT_MALLOC_ENV).map(([k, v]) => `Environment=${k}=${v}`).join('\n')}
Restart=on-failure
RestartSec=2s
NoNewPrivileges=yes

[Install]
WantedBy=default.target
`;
}

/** Text of a plist <string>: the XML escapes, and nothing XML 1.0 cannot hold. */
const xml = (s: string) => {
  refuseUnwritable(s, 'launchd plist');
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
};

/** The launchd agent (macOS) that runs `<command> agent` at login. */
export function launchdPlist(command: string[], logFile: string): string {
  const args = [...command, 'agent', '--idle-timeout=0'].map((a) => `    <string>${xml(a)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardErrorPath</key>
  <string>${xml(logFile)}</string>
</dict>
</plist>
`;
}

/** The unit or plist for this platform, or undefined where there is no service manager we know. */
export function serviceFile(p: { platform: NodeJS.Platform; home: string; env: Env; uid: number | undefined; command: string[] }): ServiceFile | undefined {
  if (p.platform === 'darwin') {
    const path = join(p.home, 'Library/LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    const domain = `gui/${p.uid ?? 0}`;
    return {
      manager: 'launchd',
      path,
      text: launchdPlist(p.command, join(p.home, 'Library/Logs/kubectl-oidc/agent.log')),
      dirs: [join(p.home, 'Library/Logs/kubectl-oidc')],
      // bootout first: bootstrap refuses a label that is already loaded (an older plist).
      enable: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`], ['launchctl', 'bootstrap', domain, path]],
      disable: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]],
    };
  }
  if (p.platform === 'win32') return undefined;
  const config = p.env.XDG_CONFIG_HOME && isAbsolute(p.env.XDG_CONFIG_HOME) ? p.env.XDG_CONFIG_HOME : join(p.home, '.config');
  return {
    manager: 'systemd',
    path: join(config, 'systemd/user', SYSTEMD_UNIT),
    text: systemdUnit(p.command),
    dirs: [],
    enable: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', SYSTEMD_UNIT]],
    disable: [['systemctl', '--user', 'disable', '--now', SYSTEMD_UNIT]],
  };
}

/**
 * How a service manager should run this kubectl-oidc. The single executable: the path it was started
 * by when that is a link on PATH (krew's ~/.krew/bin/kubectl-oidc survives upgrades; the file it points
 * to does not), else the executable itself. The npm install: this node and the entry script.
 */
export function commandLine(p: { isSea: boolean; execPath: string; argv0: string; entry: string; env: Env; cwd: string }): string[] {
  if (!p.isSea) return [p.execPath, resolve(p.cwd, p.entry)];
  const found = p.argv0.includes('/') ? resolve(p.cwd, p.argv0) : searchPath(p.argv0, p.env.PATH);
  return [found && isExecutableFile(found) ? found : p.execPath];
}

function searchPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

export type Run = (cmd: string, args: string[]) => Promise<{ code: number | null; output: string }>;

export interface InstallParams {
  service: ServiceFile;
  /** Write only; say how to enable. */
  enable: boolean;
  run: Run;
  /** Stops an agent that get-token started, so the service's agent takes over. */
  stopRunningAgent(): Promise<void>;
  stderr(text: string): void;
}

/** A POSIX shell word, for the commands printed to copy (a home with a space in it). */
const shellWord = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
const manual = (cmds: string[][]) => cmds.map((c) => c.map(shellWord).join(' ')).join(' && ');

export async function installAgent(p: InstallParams): Promise<number> {
  const { service } = p;
  for (const d of [dirname(service.path), ...service.dirs]) mkdirSync(d, { recursive: true });
  const tmp = `${service.path}.${process.pid}.tmp`;
  writeFileSync(tmp, service.text, { mode: 0o644 });
  renameSync(tmp, service.path);
  p.stderr(`kubectl-oidc: wrote ${service.path}\n`);
  if (!p.enable) {
    p.stderr(`kubectl-oidc: to start the agent at login, run: ${manual(service.enable.slice(service.manager === 'launchd' ? 1 : 0))}\n`);
    return 0;
  }
  await p.stopRunningAgent();
  for (const [i, [cmd, ...args]] of service.enable.entries()) {
    const r = await p.run(cmd!, args);
    // launchd's bootout of a label that is not loaded fails: expected on a first install.
    if (r.code !== 0 && !(service.manager === 'launchd' && i === 0)) {
      const why = r.output.trim().split('\n')[0] || `exit code ${r.code}`;
      p.stderr(`kubectl-oidc: wrote ${service.path}, but could not enable it: \`${cmd} ${args.join(' ')}\` failed: ${why}\n`);
      p.stderr(`  when your ${service.manager === 'systemd' ? 'systemd user session' : 'login session'} is available, run: ${manual(service.enable.slice(service.manager === 'launchd' ? 1 : 0))}\n`);
      p.stderr('  until then get-token starts the agent on demand, as before\n');
      return 1;
    }
  }
  p.stderr(`kubectl-oidc: the agent now starts at login (${service.manager === 'systemd' ? `systemd user unit ${SYSTEMD_UNIT}` : `launchd agent ${LAUNCHD_LABEL}`}) and is running\n`);
  return 0;
}

export async function uninstallAgent(p: Omit<InstallParams, 'stopRunningAgent'>): Promise<number> {
  const { service } = p;
  const present = existsSync(service.path);
  let failed: string | undefined;
  if (p.enable) {
    for (const [cmd, ...args] of service.disable) {
      const r = await p.run(cmd!, args);
      if (r.code !== 0 && present) failed = `\`${cmd} ${args.join(' ')}\` failed: ${r.output.trim().split('\n')[0] || `exit code ${r.code}`}`;
    }
  }
  rmSync(service.path, { force: true });
  if (service.manager === 'systemd' && p.enable) await p.run('systemctl', ['--user', 'daemon-reload']);
  if (!present) {
    p.stderr(`kubectl-oidc: nothing to uninstall (${service.path} does not exist)\n`);
    return 0;
  }
  p.stderr(`kubectl-oidc: removed ${service.path}\n`);
  if (failed) {
    p.stderr(`kubectl-oidc: could not stop the service: ${failed}\n  it will not start at the next login; \`kubectl oidc agent stop\` stops a running agent\n`);
    return 1;
  }
  return 0;
}

const AGENT_INSTALL_HELP = `Usage: kubectl oidc agent install [--no-enable]
       kubectl oidc agent uninstall [--no-enable]

install writes a systemd user unit (~/.config/systemd/user/${SYSTEMD_UNIT}) or, on macOS,
a launchd agent (~/Library/LaunchAgents/${LAUNCHD_LABEL}.plist) that runs \`kubectl-oidc agent\`
at login, then enables and starts it. uninstall stops and removes it.
  --no-enable   only write (or remove) the file; print the command that enables it
`;

/** The command as the CLI runs it: flags, then the real process, files and service manager. */
export async function agentInstallCommand(
  sub: 'install' | 'uninstall',
  argv: string[],
  io: Pick<Io, 'env' | 'cwd' | 'self' | 'stdout' | 'stderr'>,
): Promise<number> {
  const { values } = parseFlags(argv, { 'no-enable': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, 'run `kubectl oidc agent install --help`');
  if (values.help) {
    io.stdout(AGENT_INSTALL_HELP);
    return 0;
  }
  const { homedir } = await import('node:os');
  const command = commandLine({ isSea: isCompiledExecutable(), execPath: process.execPath, argv0: process.argv0, entry: io.self[1] ?? '', env: io.env, cwd: io.cwd });
  const service = serviceFile({ platform: process.platform, home: io.env.HOME || homedir(), env: io.env, uid: process.getuid?.(), command });
  if (!service) {
    throw new OidcError('E_USAGE', `agent ${sub} supports systemd (Linux) and launchd (macOS), not ${process.platform}`, {
      hint: 'get-token starts the agent on demand; nothing to install',
    });
  }
  const run: Run = async (cmd, args) => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, env: io.env as NodeJS.ProcessEnv });
    return { code: r.error ? null : r.status, output: r.error ? r.error.message : `${r.stderr ?? ''}${r.stdout ?? ''}` };
  };
  const params = { service, enable: values['no-enable'] !== true, run, stderr: io.stderr };
  return sub === 'install' ? installAgent({ ...params, stopRunningAgent: () => stopRunningAgent(io.env) }) : uninstallAgent(params);
}

/** Ask an agent that get-token started to leave, and wait until its socket is gone. */
async function stopRunningAgent(env: Env): Promise<void> {
  const sock = socketPath(env);
  if ((await probeSocket(sock)) !== 'alive') return;
  await stopAgent(sock);
}
