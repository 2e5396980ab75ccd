import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * A real Secret Service for tests: a private D-Bus session bus plus gnome-keyring-daemon, with every
 * file (bus socket, keyrings, control socket) under `dir`, so the user's own keyring is never touched.
 * Debian packages: dbus-daemon (dbus-daemon), dbus-bin (dbus-send), gnome-keyring.
 */
export interface SecretServiceRig {
  /** Pass to child processes: DBUS_SESSION_BUS_ADDRESS, HOME, XDG_* and PATH, nothing of the real session. */
  env: Record<string, string>;
  /** Lock the default collection, as a screen lock or `seahorse` would. */
  lock(): Promise<void>;
  stop(): Promise<void>;
}

export const REQUIRED_BINARIES = ['dbus-daemon', 'dbus-send', 'gnome-keyring-daemon'] as const;

/** The required binaries that are not on PATH (empty when the rig can run). */
export function missingBinaries(): string[] {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return REQUIRED_BINARIES.filter(
    (bin) =>
      !dirs.some((d) => {
        try {
          accessSync(join(d, bin), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}

/**
 * Our own bus config: no service directories, so nothing is auto-activated (no stray
 * gnome-keyring for a bus that should have none, no gcr-prompter for a locked collection:
 * an unlock prompt is dismissed at once, as on a headless machine).
 */
function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

/**
 * The supervisor runs in its own process group with its stdin on a pipe from this process.
 * `cat` returns when that pipe closes (on stop(), or when this process dies however it dies);
 * then it kills the daemons (SIGKILL: a SIGSTOPped one ignores anything else) and reaps them.
 */
const SUPERVISOR = `
dbus-daemon --config-file="$1" --nofork & BUS=$!
i=0; while [ ! -S "$2" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
GKD=
if [ "$3" = keyring ]; then
  gnome-keyring-daemon --foreground --unlock --components=secrets <<EOF &
$KEYRING_PASSWORD
EOF
  GKD=$!
fi
cat >/dev/null
kill -KILL $GKD $BUS 2>/dev/null
wait
`;

function dbusSend(env: Record<string, string>, args: string[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dbus-send', ['--session', `--reply-timeout=${timeoutMs}`, '--print-reply=literal', ...args], { env, timeout: timeoutMs + 1_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`dbus-send ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout.trim()),
    );
  });
}

const BUS = ['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus'];
const SECRETS = ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets'];

async function waitFor<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`secret-service rig: timed out waiting for ${what} (see daemons.log)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Started {
  env: Record<string, string>;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startBus(dir: string, mode: 'keyring' | 'bus-only'): Promise<Started> {
  const home = join(dir, 'home');
  const run = join(dir, 'run');
  for (const d of [home, join(dir, 'data'), join(dir, 'config'), join(dir, 'cache'), run]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'bus'); // keep `dir` short: unix socket paths are limited to ~100 bytes
  writeFileSync(join(dir, 'bus.conf'), busConfig(socket));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_RUNTIME_DIR: run,
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`,
  };
  // The daemons' chatter (fd limits, prompter warnings) goes to a log beside them, not the test output.
  const log = openSync(join(dir, 'daemons.log'), 'a');
  const child = spawn('sh', ['-c', SUPERVISOR, 'supervisor', join(dir, 'bus.conf'), socket, mode], {
    env: { ...env, KEYRING_PASSWORD: 'test-password' },
    detached: true, // own process group, so stop() can kill it whole
    stdio: ['pipe', 'ignore', log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
  });
  const stop = async () => {
    child.stdin?.end();
    // The supervisor cleans up by itself within milliseconds; the group kill is the backstop.
    const backstop = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 3_000);
    await exited;
    clearTimeout(backstop);
  };
  try {
    await waitFor('the session bus', 10_000, async () => ((await dbusSend(env, [...BUS, 'org.freedesktop.DBus.GetId'])) ? true : undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  return { env, child, stop };
}

/** Process id of whoever owns org.freedesktop.secrets, once it does and its default collection exists. */
async function waitForKeyring(env: Record<string, string>): Promise<number> {
  const pid = await waitFor('gnome-keyring-daemon on the bus', 10_000, async () => {
    const out = await dbusSend(env, [...BUS, 'org.freedesktop.DBus.GetConnectionUnixProcessID', 'string:org.freedesktop.secrets']);
    const n = Number(out.split(/\s+/).pop());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  });
  // `--unlock` creates and unlocks the "login" collection; wait until it is the default.
  await waitFor('the default collection', 10_000, async () => {
    const out = await dbusSend(env, [...SECRETS, 'org.freedesktop.Secret.Service.ReadAlias', 'string:default']);
    return out.includes('/collection/') ? true : undefined;
  });
  return pid;
}

function lockDefault(env: Record<string, string>): () => Promise<void> {
  return async () => {
    // gnome-keyring locks without a prompt; Lock returns (locked objects, prompt "/").
    await dbusSend(env, [...SECRETS, 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/aliases/default']);
  };
}

/** A private session bus with an unlocked gnome-keyring ("login" collection, password "test-password"). */
export async function startSecretService(dir: string): Promise<SecretServiceRig> {
  const bus = await startBus(dir, 'keyring');
  try {
    await waitForKeyring(bus.env);
  } catch (err) {
    await bus.stop();
    throw err;
  }
  return { env: bus.env, lock: lockDefault(bus.env), stop: bus.stop };
}

/** A private session bus where nobody owns org.freedesktop.secrets (and nothing can be activated). */
export async function startBareBus(dir: string): Promise<SecretServiceRig> {
  const bus = await startBus(dir, 'bus-only');
  return { env: bus.env, lock: async () => {}, stop: bus.stop };
}

/**
 * A Secret Service that owns its bus name but never answers: a real gnome-keyring-daemon,
 * stopped with SIGSTOP (as a daemon wedged on a dead NFS home or a debugger would be).
 * Method calls queue in the bus and no reply ever comes. The group SIGKILL in stop() still works.
 */
export async function startHangingSecretService(dir: string): Promise<SecretServiceRig> {
  const bus = await startBus(dir, 'keyring');
  try {
    const pid = await waitForKeyring(bus.env);
    process.kill(pid, 'SIGSTOP');
  } catch (err) {
    await bus.stop();
    throw err;
  }
  return { env: bus.env, lock: async () => {}, stop: bus.stop };
}
