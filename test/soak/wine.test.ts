/**
 * The windows/amd64 release executable under Wine (Debian wine64 8.0). Wine 8.0 has no
 * bcryptprimitives.dll, which Bun's Windows runtime imports (ProcessPrng): the test builds a stand-in
 * (test/soak/wine/bcryptprimitives.c, with x86_64-w64-mingw32-gcc) into a fresh prefix's system32.
 * Then --version, --help, and a real browser login against the rig issuer: get-token in-process (on
 * Windows there is no agent), the login URL read from its stderr (--skip-open-browser) and opened by the
 * rig's Chromium on the Linux side, the callback received by the Windows executable's loopback server,
 * the ID token verified with the private CA and printed as an ExecCredential; then the same token again
 * from its file store with no second login.
 * What Wine cannot show: Windows' own loader and Defender/SmartScreen, named pipes and ACLs as Windows
 * enforces them, the Credential Manager (keyring.node's backend), and a real browser launch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWorld, requireTools, execInfo, ROOT } from '../e2e/world.js';
import { browserCommand } from '../rig/browser.js';
import { releaseExecutable, releaseMissing, VERSION } from '../dist/release.js';

const EXE = releaseExecutable('windows', 'amd64');
const DLL_SOURCE = join(ROOT, 'test/soak/wine/bcryptprimitives.c');

function wineMissing(): string | undefined {
  const missing = [];
  if (!existsSync('/usr/lib/wine/wine64')) missing.push('wine64 (Debian: wine64)');
  if (spawnSync('x86_64-w64-mingw32-gcc', ['--version']).status !== 0) missing.push('x86_64-w64-mingw32-gcc (Debian: gcc-mingw-w64-x86-64)');
  if (missing.length === 0) return undefined;
  const why = `missing ${missing.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

const skip = requireTools() ?? releaseMissing() ?? wineMissing() ?? (existsSync(EXE) ? undefined : `no ${EXE}: the test release has no windows/amd64`);

/** A Unix path as the Windows program sees it (Wine maps / to Z:). */
const winPath = (p: string) => `Z:${p.replace(/\//g, '\\')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

test('windows/amd64 under Wine: --version, --help, and a real login against the rig issuer', { skip, timeout: 900_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-wine-'));
  const prefix = join(dir, 'prefix');
  const wineEnv: Record<string, string> = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', WINEARCH: 'win64' };
  t.after(() => {
    // Every Windows process of this prefix (wineserver, services, anything the executable left running).
    const server = ['/usr/lib/wine/wineserver64', '/usr/lib/wine/wineserver'].find((f) => existsSync(f));
    if (server) spawnSync(server, ['-k'], { env: { ...process.env, ...wineEnv }, timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  });
  const boot = spawnSync('wine', ['wineboot', '--init'], { env: { ...process.env, ...wineEnv }, encoding: 'utf8', timeout: 300_000 });
  assert.equal(boot.status, 0, `wineboot: ${boot.stderr}`);
  const system32 = join(prefix, 'drive_c/windows/system32');
  assert.ok(existsSync(system32), 'the prefix has a system32');
  const dll = spawnSync('x86_64-w64-mingw32-gcc', ['-shared', '-O2', '-o', join(system32, 'bcryptprimitives.dll'), DLL_SOURCE, '-ladvapi32'], { encoding: 'utf8' });
  assert.equal(dll.status, 0, dll.stderr);
  // The executable and its keyring addon, as the zip unpacks them.
  const app = join(dir, 'app');
  mkdirSync(app);
  copyFileSync(EXE, join(app, 'kubectl-oidc.exe'));
  copyFileSync(join(EXE, '..', 'keyring.node'), join(app, 'keyring.node'));

  const w = await createWorld();
  t.after(() => w.close());
  const env = { ...process.env, ...w.env, ...wineEnv };
  const wine = (args: string[], extra: Record<string, string> = {}, onStderr?: (text: string) => void): Promise<Run> =>
    new Promise((resolve) => {
      const p = spawn('wine', [join(app, 'kubectl-oidc.exe'), ...args], { env: { ...env, ...extra }, cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr?.(stderr);
      });
      const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr: stderr.replace(/\r\n/g, '\n') });
      });
    });

  const version = await wine(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `kubectl-oidc ${VERSION}\n`);
  const help = await wine(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /get-token/);

  // The rig's flags, with the CA as a Windows path and no browser command: the test is the browser.
  const args = [
    'get-token',
    ...w.tokenArgs.filter((a) => !a.startsWith('--certificate-authority=') && !a.startsWith('--browser-command=') && !a.startsWith('--token-cache-storage=')),
    `--certificate-authority=${winPath(w.ca.caFile)}`,
    '--token-cache-storage=file',
    '--grant-type=authcode',
    '--skip-open-browser',
  ];
  let opened = false;
  let browser: Promise<number | null> | undefined;
  const first = await wine(args, execInfo(false), (stderr) => {
    const url = /^\s+(https?:\/\/\S+)$/m.exec(stderr)?.[1];
    if (!url || opened) return;
    opened = true;
    const [node, ...argv] = browserCommand({ log: w.browserLog, mode: 'login', login: 'alice', spki: w.issuer.spki });
    browser = new Promise((r) => spawn(node!, [...argv, url], { stdio: 'inherit' }).on('close', r));
  });
  assert.ok(opened, `the login URL was printed: ${first.stderr}`);
  assert.equal(await browser, 0, 'the rig browser logged in');
  assert.equal(first.code, 0, first.stderr);
  const cred = JSON.parse(first.stdout) as { kind: string; status: { token: string; expirationTimestamp: string } };
  assert.equal(cred.kind, 'ExecCredential');
  const claims = JSON.parse(Buffer.from(cred.status.token.split('.')[1]!, 'base64url').toString()) as { iss: string; email: string };
  assert.equal(claims.iss, w.issuer.url);
  assert.equal(claims.email, 'alice@example.com');

  const again = await wine(args, execInfo(false));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).status.token, cred.status.token, 'the stored token, no second login');
  assert.equal(await w.launches(), 1);
  t.diagnostic(`the Windows executable's stderr at login: ${first.stderr.trim().split('\n').join(' | ')}`);
  // On Windows get-token works in-process with no agent (lib/client/transport.ts noAgentOn: until the
  // named pipe's owner is checked, another local user could create it first). Neither call tried one:
  // no "the agent did not start", no word of an agent at all; and `agent start` refuses, saying why.
  for (const [name, run] of [['login', first], ['stored token', again]] as const) {
    assert.doesNotMatch(run.stderr, /agent/i, `get-token (${name}) said nothing about an agent: ${run.stderr}`);
  }
  const start = await wine(['agent', 'start']);
  assert.notEqual(start.code, 0, `agent start on Windows: ${start.stdout}${start.stderr}`);
  assert.match(start.stderr, /no agent is used on Windows/);
});
