// `npm run release`: the release executable for every platform, compiled with Bun (the pinned devDependency,
// scripts/bun-compile.mjs) from the esbuild bundles, each checked, archived with its own platform's keyring
// addon, LICENSE, README and notices, hashed, and written into krew.yaml, the Homebrew formula and the
// Scoop manifest.
//
//   node scripts/release.mjs [--platforms linux/amd64,linux/arm64,...] [--out dist] [--no-build]
//                            [--manifest krew.yaml] [--homebrew plugin-manifest/homebrew/kubectl-oidc.rb]
//                            [--scoop plugin-manifest/scoop/kubectl-oidc.json] [--base-url URL]
//
// The keyring addon: the @napi-rs/keyring-<platform> package at the version and integrity recorded in
// package-lock.json, fetched with `npm pack` (kept in .tmp/release-cache) and its tarball's sha512 checked
// against the lock here (not only by npm). The executable loads it as keyring.node beside itself.
// Checks before anything is archived: each executable and addon has its platform's format and CPU;
// linux/amd64 runs here (--version, agent --help); linux/arm64 runs --version under qemu-aarch64-static;
// darwin executables carry a current ad-hoc signature (signed here when Bun left a stale one;
// test/dist/darwin-signature.test.ts recomputes every page hash);
// windows runs under Wine in the soak tier (test/soak/wine.test.ts). A platform that fails is an error:
// the release is all platforms asked for, or nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { compile } from './bun-compile.mjs';
import { tarGz, zip } from './archive.mjs';
import { adhocSign, signatureCurrent } from './macho-sign.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
};
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lockfile = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const VERSION = pkg.version;
const BUN_VERSION = lockfile.packages['node_modules/bun']?.version;
const CACHE = resolve('.tmp/release-cache');
/** Where each platform's executable and keyring.node are left, unpacked (the tests run them from here). */
export const WORK = resolve('.tmp/release');

export const TARGETS = [
  { os: 'linux', arch: 'amd64', bun: 'bun-linux-x64', keyring: '@napi-rs/keyring-linux-x64-gnu', format: 'elf', machine: 0x3e },
  { os: 'linux', arch: 'arm64', bun: 'bun-linux-arm64', keyring: '@napi-rs/keyring-linux-arm64-gnu', format: 'elf', machine: 0xb7 },
  { os: 'darwin', arch: 'amd64', bun: 'bun-darwin-x64', keyring: '@napi-rs/keyring-darwin-x64', format: 'macho', machine: 0x01000007 },
  { os: 'darwin', arch: 'arm64', bun: 'bun-darwin-arm64', keyring: '@napi-rs/keyring-darwin-arm64', format: 'macho', machine: 0x0100000c },
  { os: 'windows', arch: 'amd64', bun: 'bun-windows-x64', keyring: '@napi-rs/keyring-win32-x64-msvc', format: 'pe', machine: 0x8664 },
];

const log = (m) => process.stderr.write(`release: ${m}\n`);
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

export const archiveName = (t) => `kubectl-oidc_${VERSION}_${t.os}_${t.arch}.${t.os === 'windows' ? 'zip' : 'tar.gz'}`;
export const exeName = (t) => (t.os === 'windows' ? 'kubectl-oidc.exe' : 'kubectl-oidc');

/** The package's entry in package-lock.json: its version, resolved URL and integrity. */
function lockEntry(name) {
  const e = lockfile.packages[`node_modules/${name}`];
  if (!e?.version || !e.integrity) throw new Error(`${name} has no version and integrity in package-lock.json`);
  return e;
}

/** `npm pack NAME@VERSION` into the cache, its tarball checked against the lock's integrity, unpacked. */
function fetchPackage(name) {
  const { version, integrity } = lockEntry(name);
  const dir = join(CACHE, `${name.replace('/', '+')}@${version}`);
  const [algo, want] = [integrity.slice(0, integrity.indexOf('-')), integrity.slice(integrity.indexOf('-') + 1)];
  const tgz = join(dir, 'package.tgz');
  if (!existsSync(tgz)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`fetching ${name}@${version} with npm pack`);
    const out = execFileSync('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const [info] = JSON.parse(out);
    execFileSync('mv', [join(dir, info.filename), tgz]);
  }
  // Checked on every run, cached or not: the cache is a directory anyone with this account can write.
  const got = createHash(algo).update(readFileSync(tgz)).digest('base64');
  if (got !== want) throw new Error(`${name}@${version}: the tarball's ${algo} is ${got}, package-lock.json says ${want}`);
  rmSync(join(dir, 'package'), { recursive: true, force: true });
  execFileSync('tar', ['-xzf', tgz, '-C', dir]);
  return join(dir, 'package');
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** How to run an executable of this target here (argv prefix), or undefined. */
export function runnerFor(t) {
  const hostArch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || t.os !== 'linux') return undefined;
  if (t.arch === hostArch) return [];
  // Debian qemu-user-static, with the arm64 C/C++ runtime from libc6/libstdc++6/libgcc-s1-arm64-cross.
  if (t.arch === 'arm64' && has('qemu-aarch64-static') && existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) return ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];
  return undefined;
}

/** Format and CPU of an executable or addon. Throws with the reason. */
export function checkBinary(buf, t, what) {
  if (t.format === 'pe') {
    if (buf.toString('latin1', 0, 2) !== 'MZ') throw new Error(`${what}: not a PE file (no MZ)`);
    const pe = buf.readUInt32LE(0x3c);
    if (buf.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error(`${what}: not a PE file (no PE signature)`);
    if (buf.readUInt16LE(pe + 4) !== t.machine) throw new Error(`${what}: PE machine 0x${buf.readUInt16LE(pe + 4).toString(16)}`);
  } else if (t.format === 'macho') {
    if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error(`${what}: not a 64-bit Mach-O`);
    if (buf.readUInt32LE(4) !== t.machine) throw new Error(`${what}: Mach-O cputype 0x${buf.readUInt32LE(4).toString(16)}`);
  } else {
    if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${what}: not an ELF file`);
    if (buf.readUInt16LE(18) !== t.machine) throw new Error(`${what}: ELF machine 0x${buf.readUInt16LE(18).toString(16)}`);
  }
}

/** Apple Silicon runs no unsigned code: the executable must carry LC_CODE_SIGNATURE (the tests verify it). */
function hasCodeSignature(buf) {
  const ncmds = buf.readUInt32LE(16);
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    if (buf.readUInt32LE(off) === 0x1d) return true;
    off += buf.readUInt32LE(off + 4);
  }
  return false;
}

function smokeTest(exe, run) {
  const [cmd, ...pre] = [...run, exe];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const version = spawnSync(cmd, [...pre, '--version'], { encoding: 'utf8', env, timeout: 120_000 });
  if (version.stdout !== `kubectl-oidc ${VERSION}\n`) throw new Error(`--version printed ${JSON.stringify(version.stdout)} (exit ${version.status}): ${version.stderr}`);
  if (version.stderr !== '') throw new Error(`--version said on stderr: ${version.stderr}`);
  if (run.length) return `--version under ${run[0]}`;
  // Loads the agent half (main.cjs inside the executable).
  const help = spawnSync(cmd, [...pre, 'agent', '--help'], { encoding: 'utf8', env, timeout: 120_000 });
  if (help.status !== 0 || !/Usage: kubectl oidc agent/.test(help.stdout)) throw new Error(`agent --help failed (exit ${help.status}): ${help.stderr}`);
  if (help.stderr !== '') throw new Error(`agent --help said on stderr: ${help.stderr}`);
  return '--version and agent --help';
}

/** Licenses of what the executable contains: Bun, the bundled packages (esbuild's path comments), the addon. */
function thirdPartyNotices(keyringDir) {
  const pkgs = new Set();
  for (const f of ['cli.cjs', 'main.cjs', 'oidc.cjs', 'yaml.cjs']) {
    for (const m of readFileSync(join('dist', f), 'utf8').matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) pkgs.add(m[1]);
  }
  pkgs.add('@napi-rs/keyring');
  const parts = ['# Third-party notices', '', 'kubectl-oidc is Apache-2.0 (see LICENSE). The executable and keyring.node also contain the following software.', ''];
  parts.push(
    `## Bun ${BUN_VERSION} (MIT)`,
    '',
    'The executable is a Bun runtime with kubectl-oidc inside. Bun is MIT-licensed and links JavaScriptCore',
    '(LGPL-2.0 / BSD), WebKit\'s WTF, BoringSSL, zlib, libuv and other libraries under their own licenses; the',
    `full list and texts: https://github.com/oven-sh/bun/blob/bun-v${BUN_VERSION}/LICENSE.md`,
    '',
  );
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

export async function releaseTarget(t, out) {
  const t0 = Date.now();
  const keyringDir = fetchPackage(t.keyring);
  const addonName = readdirSync(keyringDir).find((f) => f.endsWith('.node'));
  if (!addonName) throw new Error(`${t.keyring} has no .node file`);
  const addon = readFileSync(join(keyringDir, addonName));
  checkBinary(addon, t, `${t.keyring}/${addonName}`);

  const work = join(WORK, `${t.os}_${t.arch}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const exe = join(work, exeName(t));
  await compile({ target: t.bun, outfile: exe });
  copyFileSync(join(keyringDir, addonName), join(work, 'keyring.node'));
  chmodSync(join(work, 'keyring.node'), 0o755);
  let buf = readFileSync(exe);
  checkBinary(buf, t, exe);
  let checked = 'format and CPU';
  if (t.format === 'macho') {
    if (!hasCodeSignature(buf)) throw new Error(`${exe}: no code signature (Apple Silicon refuses to run it)`);
    // Bun's darwin/x64 output keeps the stale signature of the runtime it started from: sign it again, ad hoc.
    if (!signatureCurrent(buf)) {
      buf = adhocSign(buf);
      if (!signatureCurrent(buf)) throw new Error(`${exe}: the ad-hoc signature did not take`);
      writeFileSync(exe, buf);
      checked += ', signed ad hoc (Bun left a stale signature)';
    } else checked += ', signature current';
  }
  const run = runnerFor(t);
  if (run) checked += `, ${smokeTest(exe, run)}`;
  const entries = [
    { name: exeName(t), data: buf, mode: 0o755 },
    { name: 'keyring.node', data: addon, mode: 0o755 },
    { name: 'LICENSE', data: readFileSync('LICENSE'), mode: 0o644 },
    { name: 'README.md', data: readFileSync('README.md'), mode: 0o644 },
    { name: 'THIRD-PARTY-NOTICES.md', data: thirdPartyNotices(keyringDir), mode: 0o644 },
  ];
  const archive = archiveName(t);
  const data = t.os === 'windows' ? zip(entries) : tarGz(entries);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, archive), data);
  const hash = sha256(data);
  writeFileSync(join(out, `${archive}.sha256`), `${hash}  ${archive}\n`);
  log(`${t.os}/${t.arch}: ${archive} (${(data.length / 2 ** 20).toFixed(1)} MiB, sha256 ${hash}), checked: ${checked}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { archive, sha256: hash, exeName: exeName(t), files: entries.map((e) => e.name), checked };
}

/** Put version, uri and sha256 of each built platform into the krew manifest; platforms not built are dropped. */
export function writeKrewManifest(file, built, baseUrl) {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['spec', 'version'], `v${VERSION}`);
  const platforms = built.map(({ t, r }) => ({
    selector: { matchLabels: { os: t.os, arch: t.arch } },
    uri: `${baseUrl}/v${VERSION}/${r.archive}`,
    sha256: r.sha256,
    files: r.files.map((f) => ({ from: f, to: '.' })),
    bin: r.exeName,
  }));
  doc.setIn(['spec', 'platforms'], doc.createNode(platforms));
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
}

/**
 * The Homebrew formula (macOS and Linux), written whole. The executable and keyring.node go together into
 * libexec (the executable loads the addon from its own directory, after resolving the bin/ symlink, as
 * it does under krew); bin gets the symlink.
 */
export function homebrewFormula(built, baseUrl) {
  const pick = (os, arch) => built.find(({ t }) => t.os === os && t.arch === arch);
  const block = (os, arch, indent) => {
    const b = pick(os, arch);
    if (!b) return [];
    return [`${indent}url "${baseUrl}/v${VERSION}/${b.r.archive}"`, `${indent}sha256 "${b.r.sha256}"`];
  };
  const lines = [
    '# Homebrew formula for kubectl-oidc, written by `npm run release` (scripts/release.mjs): do not edit by hand.',
    '# Install: brew install --formula ./kubectl-oidc.rb (or from a tap that carries this file).',
    'class KubectlOidc < Formula',
    `  desc "${pkg.description.replace(/"/g, '\\"')}"`,
    `  homepage "${pkg.homepage}"`,
    `  version "${VERSION}"`,
    `  license "${pkg.license}"`,
    '',
  ];
  for (const [os, brewOs] of [['darwin', 'on_macos'], ['linux', 'on_linux']]) {
    const arm = block(os, 'arm64', '      ');
    const intel = block(os, 'amd64', '      ');
    if (!arm.length && !intel.length) continue;
    lines.push(`  ${brewOs} do`);
    if (arm.length) lines.push('    on_arm do', ...arm, '    end');
    if (intel.length) lines.push('    on_intel do', ...intel, '    end');
    lines.push('  end', '');
  }
  lines.push(
    '  def install',
    '    libexec.install "kubectl-oidc", "keyring.node"',
    '    bin.install_symlink libexec/"kubectl-oidc"',
    '    doc.install "README.md", "THIRD-PARTY-NOTICES.md"',
    '  end',
    '',
    '  def caveats',
    '    <<~EOS',
    '      Add a kubeconfig user with `kubectl oidc setup`; its exec command is kubectl-oidc.',
    '      `kubectl oidc agent install` starts the token agent at login.',
    '    EOS',
    '  end',
    '',
    '  test do',
    '    assert_equal "kubectl-oidc #{version}\\n", shell_output("#{bin}/kubectl-oidc --version")',
    '  end',
    'end',
    '',
  );
  return lines.join('\n');
}

/**
 * The Scoop manifest (Windows). Scoop unpacks the zip into the app's directory and puts a shim for the
 * executable on PATH; the shim starts the real executable there, beside keyring.node.
 */
export function scoopManifest(built, baseUrl) {
  const w = built.find(({ t }) => t.os === 'windows' && t.arch === 'amd64');
  if (!w) return undefined;
  const m = {
    version: VERSION,
    description: pkg.description,
    homepage: pkg.homepage,
    license: pkg.license,
    architecture: { '64bit': { url: `${baseUrl}/v${VERSION}/${w.r.archive}`, hash: w.r.sha256 } },
    bin: w.r.exeName,
    notes: ['Add a kubeconfig user with `kubectl oidc setup`; its exec command is kubectl-oidc.'],
    checkver: 'github',
    autoupdate: { architecture: { '64bit': { url: `${baseUrl}/v$version/kubectl-oidc_$version_windows_amd64.zip` } }, hash: { url: '$url.sha256' } },
  };
  return `${JSON.stringify(m, null, 2)}\n`;
}

async function main() {
  if (!argv.includes('--no-build')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
  const out = resolve(opt('--out') ?? 'dist');
  const krew = resolve(opt('--manifest') ?? 'krew.yaml');
  const brew = resolve(opt('--homebrew') ?? 'plugin-manifest/homebrew/kubectl-oidc.rb');
  const scoop = resolve(opt('--scoop') ?? 'plugin-manifest/scoop/kubectl-oidc.json');
  const baseUrl = (opt('--base-url') ?? `${pkg.homepage}/releases/download`).replace(/\/$/, '');
  const wanted = opt('--platforms')?.split(',');
  if (wanted) for (const w of wanted) if (!TARGETS.some((t) => `${t.os}/${t.arch}` === w)) throw new Error(`unknown platform ${w}`);
  const built = [];
  for (const t of TARGETS) {
    if (wanted && !wanted.includes(`${t.os}/${t.arch}`)) continue;
    built.push({ t, r: await releaseTarget(t, out) });
  }
  writeKrewManifest(krew, built, baseUrl);
  mkdirSync(dirname(brew), { recursive: true });
  writeFileSync(brew, homebrewFormula(built, baseUrl));
  const sc = scoopManifest(built, baseUrl);
  if (sc) {
    mkdirSync(dirname(scoop), { recursive: true });
    writeFileSync(scoop, sc);
  }
  log(`${krew}, ${brew}${sc ? `, ${scoop}` : ''}: ${built.map(({ t }) => `${t.os}/${t.arch}`).join(', ')}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    log(`failed: ${err.stack ?? err}`);
    process.exitCode = 1;
  });
}
