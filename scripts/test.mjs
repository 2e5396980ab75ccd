// The test tiers. Run after scripts/build.mjs (npm test does both).
//
//   node scripts/test.mjs                  the full suite: unit, rig, e2e, dist
//   node scripts/test.mjs unit e2e         some groups (build/test/<group>/*.test.js)
//   node scripts/test.mjs e2e --release    the e2e files against the linux/amd64 release executable
//                                          (KUBECTL_OIDC_TEST_PLUGIN), not `node dist/kubectl-oidc.cjs`
//   node scripts/test.mjs soak             the soak tier (npm run test:soak): test/soak (the arm64 release
//                                          under qemu, the windows release under Wine) and the kill and
//                                          load loops, long, against the linux/amd64 release executable
//
// The node that runs this script runs the tests (and, in e2e, the npm build): put another Node first on
// PATH to test on it. Files run two at a time (2 cores). dist, soak and --release need the release: it is
// built once (every platform, scripts/release.mjs) into .tmp/test-release with its own copies of the
// manifests, and reused while dist/, the lock file and the release scripts are unchanged.
import { readdirSync, existsSync, rmSync, mkdirSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const args = process.argv.slice(2);
const againstRelease = args.includes('--release');
const named = args.filter((a) => !a.startsWith('--'));
const groups = named.length ? named : ['unit', 'rig', 'e2e', 'dist'];
const SOAK_LOOPS = { KUBECTL_OIDC_KILL_LOOPS: '40', KUBECTL_OIDC_LOAD_SECONDS: '60' };
const RELEASE_OUT = join(root, '.tmp/test-release');
const RELEASE_EXE = join(root, '.tmp/release/linux_amd64/kubectl-oidc');

function testFiles(group) {
  const dir = join(root, 'build/test', group);
  if (!existsSync(dir)) {
    console.error(`no compiled tests in ${dir}: run npm run build first`);
    process.exit(1);
  }
  return readdirSync(dir).sort().filter((f) => f.endsWith('.test.js')).map((f) => join(dir, f));
}

/** What the test release is built from: when none of it changed, the last one is reused. */
function releaseInputs() {
  const h = createHash('sha256');
  const files = [
    ...readdirSync(join(root, 'dist')).filter((f) => f.endsWith('.cjs')).sort().map((f) => join('dist', f)),
    'package-lock.json', 'package.json', 'README.md', 'LICENSE', 'krew.yaml',
    'scripts/release.mjs', 'scripts/bun-compile.mjs', 'scripts/archive.mjs', 'scripts/macho-sign.mjs',
  ];
  for (const f of files) h.update(`${f}\0`).update(readFileSync(join(root, f)));
  return h.digest('hex');
}

function ensureRelease() {
  const stamp = join(RELEASE_OUT, 'INPUTS');
  const want = releaseInputs();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(RELEASE_EXE)) {
    console.error(`test release: reusing ${RELEASE_OUT} (same inputs)`);
    return;
  }
  rmSync(RELEASE_OUT, { recursive: true, force: true });
  mkdirSync(RELEASE_OUT, { recursive: true });
  copyFileSync(join(root, 'krew.yaml'), join(RELEASE_OUT, 'krew.yaml'));
  const t0 = Date.now();
  const rel = spawnSync(
    process.execPath,
    ['scripts/release.mjs', '--no-build', '--out', RELEASE_OUT, '--manifest', join(RELEASE_OUT, 'krew.yaml'), '--homebrew', join(RELEASE_OUT, 'kubectl-oidc.rb'), '--scoop', join(RELEASE_OUT, 'kubectl-oidc.json')],
    { stdio: 'inherit', cwd: root },
  );
  if (rel.status !== 0) {
    console.error('building the test release failed');
    process.exit(1);
  }
  writeFileSync(stamp, want);
  console.error(`test release: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

function runTests(files, env = {}) {
  if (files.length === 0) return 0;
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  return r.status ?? 1;
}

const needsRelease = againstRelease || groups.some((g) => g === 'dist' || g === 'soak');
if (needsRelease) ensureRelease();
let status = 0;
const t0 = Date.now();
if (groups.includes('soak')) {
  const soak = [...testFiles('soak'), ...['kill', 'load'].map((n) => join(root, `build/test/e2e/${n}.test.js`))];
  status = runTests(soak, { ...SOAK_LOOPS, KUBECTL_OIDC_TEST_PLUGIN: RELEASE_EXE });
}
const rest = groups.filter((g) => g !== 'soak').flatMap(testFiles);
status = runTests(rest, againstRelease ? { KUBECTL_OIDC_TEST_PLUGIN: RELEASE_EXE } : {}) || status;
console.error(`tests (${groups.join(' ')}${againstRelease ? ' against the release executable' : ''}, node ${process.version}): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(status);
