// A real HTTP forward proxy for tests: Debian's tinyproxy on 127.0.0.1, one per test, with its own
// config and log in a temp dir. Tests read `connects` (one "host:port" per CONNECT, parsed from the
// log, which tinyproxy writes as it goes) to prove that the product tunnelled through it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestProxy {
  /** http://127.0.0.1:PORT, for HTTPS_PROXY or undici's ProxyAgent. */
  url: string;
  /** host:port of each CONNECT so far, in order (read from the log on every access). */
  readonly connects: string[];
  close(): Promise<void>;
}

export interface SkippedProxy {
  skip: string;
}

const TINYPROXY = '/usr/bin/tinyproxy';

/**
 * Why proxy tests cannot run here, or undefined if they can. In CI (CI=true) a missing tinyproxy
 * is an error, not a skip: scripts/ci.sh installs it.
 */
export function proxySkipReason(): string | undefined {
  if (spawnSync(TINYPROXY, ['-v'], { stdio: 'ignore' }).error === undefined) return undefined;
  const reason = `${TINYPROXY} not found: apt-get install tinyproxy (scripts/ci.sh does)`;
  if (process.env.CI === 'true') throw new Error(reason);
  return reason;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

export async function startProxy(): Promise<TestProxy | SkippedProxy> {
  const skip = proxySkipReason();
  if (skip) return { skip };

  const dir = await mkdtemp(join(tmpdir(), 'rig-proxy-'));
  const log = join(dir, 'tinyproxy.log');
  const port = await freePort();
  // No ConnectPort lines: CONNECT to any port (the test issuers listen on random ones).
  // LogLevel Connect logs each request line, CONNECTs included.
  await writeFile(
    join(dir, 'tinyproxy.conf'),
    [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 60',
      `LogFile "${log}"`,
      'LogLevel Connect',
      'MaxClients 100',
      'Allow 127.0.0.1',
      '',
    ].join('\n'),
  );
  // -d: stay in the foreground, so closing kills exactly this process.
  const child = spawn(TINYPROXY, ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanUp = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 5000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await cleanUp();
      throw new Error(`tinyproxy did not start on port ${port}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }

  return {
    url: `http://127.0.0.1:${port}`,
    get connects() {
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        // Not written yet: nothing logged.
      }
      return [...text.matchAll(/: Request \(file descriptor \d+\): CONNECT (\S+) HTTP\//g)].map((m) => m[1]!);
    },
    close: cleanUp,
  };
}
