/**
 * The single executable installed the way krew installs it: the linux/amd64 archive fetched over HTTP by
 * the manifest's uri (served from 127.0.0.1: the uri's origin is pointed at a local server, its path kept),
 * its sha256 checked, extracted, the manifest's file operations applied, and `bin` linked as
 * kubectl-oidc into a fresh PATH dir. Then kubectl finds it, and a browser login through real kubectl
 * works with it and with the agent it starts (which must be the same executable), keyring included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createWorld, requireTools, run, cacheFiles, ROOT, type World } from '../e2e/world.js';
import type { Report } from '../rig/keyring-cli.js';
import { startSecretService, missingBinaries } from '../rig/secret-service.js';
import { platformFor } from './krew-rules.js';
import { RELEASE_DIR, RELEASE_MANIFEST, VERSION, readManifest, releaseMissing, sha256 } from './release.js';

const skip = requireTools() ?? releaseMissing();

/** What `kubectl krew install` does with one platform entry, minus the index: returns the PATH dir. */
async function krewInstall(root: string): Promise<{ binDir: string; installDir: string }> {
  const m = readManifest(RELEASE_MANIFEST);
  const p = platformFor(m, 'linux', 'amd64');
  assert.ok(p, 'the manifest has linux/amd64');
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(join(RELEASE_DIR, basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname))));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const uri = new URL(p.uri);
    const local = new URL(uri.pathname, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const res = await fetch(local);
    assert.equal(res.status, 200, `GET ${local}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(sha256(body), p.sha256, 'the downloaded archive has the sha256 of the manifest');
    const download = join(root, 'download');
    mkdirSync(download, { recursive: true });
    const archive = join(download, basename(uri.pathname));
    writeFileSync(archive, body);
    const extracted = join(download, 'extracted');
    mkdirSync(extracted);
    execFileSync('tar', ['-xzf', archive, '-C', extracted]);
    assert.deepEqual(readdirSync(extracted).sort(), ['LICENSE', 'README.md', 'THIRD-PARTY-NOTICES.md', 'keyring.node', 'kubectl-oidc']);
    const installDir = join(root, 'store/oidc', m.spec.version);
    for (const f of p.files) {
      mkdirSync(join(installDir, f.to), { recursive: true });
      copyFileSync(join(extracted, f.from), join(installDir, f.to, basename(f.from)));
    }
    execFileSync('chmod', ['+x', join(installDir, p.bin)]);
    const binDir = join(root, 'bin');
    mkdirSync(binDir);
    symlinkSync(join(installDir, p.bin), join(binDir, 'kubectl-oidc'));
    return { binDir, installDir };
  } finally {
    server.close();
  }
}

function agentExe(runtimeDir: string): { pid: number; exe: string; cmdline: string[] } {
  const { pid } = JSON.parse(readFileSync(join(runtimeDir, 'agent.json'), 'utf8')) as { pid: number };
  return { pid, exe: readlinkSync(`/proc/${pid}/exe`), cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean) };
}

test('the linux/amd64 release, installed the krew way', { skip, timeout: 240_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ko-krew-'));
  let w: World | undefined;
  // One hook, in this order: the world stops its agent with the installed executable before it is removed.
  t.after(async () => {
    await w?.close();
    rmSync(root, { recursive: true, force: true });
  });
  const { binDir, installDir } = await krewInstall(root);
  const exe = join(binDir, 'kubectl-oidc');
  const env = { HOME: join(root, 'home'), PATH: `${binDir}:/usr/bin:/bin` };
  mkdirSync(env.HOME);

  await t.test('kubectl plugin list shows it; kubectl oidc --version prints the version', async () => {
    const list = await run('/usr/bin/kubectl', ['plugin', 'list'], env, 30_000);
    assert.match(list.stdout, new RegExp(`^${exe.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), list.stdout + list.stderr);
    const v = await run('/usr/bin/kubectl', ['oidc', '--version'], env, 30_000);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `kubectl-oidc ${VERSION}\n`);
  });

  w = await createWorld({ plugin: exe });

  await t.test('kubectl auth whoami logs in through the browser with it; the agent it starts is the same executable', async () => {
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 1);
    const agent = agentExe(w.env.KUBECTL_OIDC_RUNTIME_DIR!);
    assert.equal(agent.exe, realpathSync(join(installDir, 'kubectl-oidc')), 'the agent runs from the single executable');
    assert.deepEqual(agent.cmdline.slice(1), ['agent', '--daemon'], 'no script argument in a single executable');
    const again = await w.kubectl(['auth', 'whoami']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
    assert.equal(await w.launches(), 1, 'the cached token: no second login');
  });

  await t.test("a user's NODE_OPTIONS with V8 flags (--max-old-space-size=4096) and NODE_EXTRA_CA_CERTS: it still works, quietly", async () => {
    // A fresh agent, started under these settings (a start-up snapshot would refuse to start there).
    const stop = await run(exe, ['agent', 'stop'], { ...w.env } as Record<string, string>, 30_000);
    assert.equal(stop.code, 0, stop.stderr);
    const extra = join(root, 'extra-ca.pem');
    writeFileSync(extra, w.ca.caPem);
    const r = await w.kubectl(['auth', 'whoami'], { env: { NODE_OPTIONS: '--max-old-space-size=4096 --max-semi-space-size=32', NODE_EXTRA_CA_CERTS: extra } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /alice@example\.com/);
    assert.equal(await w.launches(), 1, 'the token on disk: no second login');
    const agent = agentExe(w.env.KUBECTL_OIDC_RUNTIME_DIR!);
    const agentEnv = readFileSync(`/proc/${agent.pid}/environ`, 'utf8').split('\0');
    assert.ok(agentEnv.includes('NODE_OPTIONS=--max-old-space-size=4096 --max-semi-space-size=32'), "the agent keeps the user's NODE_OPTIONS");
    assert.ok(!agentEnv.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')), 'NODE_EXTRA_CA_CERTS is read by the agent, not by Node at its start');
    // Bun's executable ignores Node's V8 flags: nothing to say about them, even with KUBECTL_OIDC_DEBUG=1.
    const flagged = await run(exe, ['--version'], { ...env, KUBECTL_OIDC_DEBUG: '1', NODE_OPTIONS: '--max-old-space-size=4096' }, 30_000);
    assert.equal(flagged.stdout, `kubectl-oidc ${VERSION}\n`);
    assert.equal(flagged.stderr, '');
  });

  const missing = missingBinaries();
  await t.test('keyring.node beside the executable: sessions in a real Secret Service', { skip: missing.length ? `missing ${missing.join(', ')}` : undefined }, async () => {
    const ss = await startSecretService(join(w.dir, 'ss'));
    try {
      await w.stopAgent(); // the next agent starts with this bus
      const args = [...w.tokenArgs.filter((a) => !a.startsWith('--token-cache-storage')), '--token-cache-storage=keyring'];
      const r = await w.plugin(['get-token', ...args], { env: { DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).kind, 'ExecCredential');
      assert.doesNotMatch(r.stderr, /no usable OS keyring|does not load/);
      const list = execFileSync(process.execPath, [join(ROOT, 'build/test/rig/keyring-cli.js'), JSON.stringify({ store: 'keyring', cacheDir: join(w.dir, 'unused'), ops: [{ op: 'list' }] })], {
        env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS },
        encoding: 'utf8',
        timeout: 20_000,
      });
      const items = (JSON.parse(list) as Report).results[0]?.value;
      assert.ok(Array.isArray(items) && items.length === 1, `one session in the keyring: ${list}`);
      assert.equal(cacheFiles(w).length, 0, 'and none in the file store');
      await w.stopAgent();
    } finally {
      await ss.stop();
    }
  });

  await t.test('without keyring.node beside it: the file store, said in one line', async () => {
    const alone = join(root, 'alone');
    mkdirSync(alone);
    copyFileSync(join(installDir, 'kubectl-oidc'), join(alone, 'kubectl-oidc'));
    execFileSync('chmod', ['+x', join(alone, 'kubectl-oidc')]);
    const args = [...w!.tokenArgs.filter((a) => !a.startsWith('--token-cache-storage')), '--token-cache-storage=auto'];
    const r = await run(join(alone, 'kubectl-oidc'), ['get-token', ...args], { ...process.env, ...w!.env, KUBECTL_OIDC_NO_AGENT: '1' }, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).kind, 'ExecCredential');
    assert.match(r.stderr, /^kubectl-oidc: no usable OS keyring: the keyring module does not load on this platform; keeping tokens in /m);
    // (The session moved into the keyring above, so this one logs in again, into the file store.)
    assert.equal(r.stderr.match(/no usable OS keyring/g)?.length, 1, `said once: ${r.stderr}`);
  });
});
