// The test tiers. Run after scripts/build.mjs (the npm scripts do both). Which file is in which group:
// scripts/test-groups.mjs.
//
//   node scripts/test.mjs                  the full suite: unit, integration, rig, e2e, dist (CI's first tier)
//   node scripts/test.mjs unit core        unit, then the core e2e files (npm test)
//   node scripts/test.mjs unit e2e         some groups: a folder of test/ (build/test/<group>/*.test.js), or core
//   node scripts/test.mjs e2e --release    the e2e files against the linux/amd64 release executable
//                                          (KUBECTL_OIDC_TEST_PLUGIN), not `node dist/kubectl-oidc.cjs`
//   node scripts/test.mjs soak             the soak tier (npm run test:soak): test/soak (the arm64 release
//                                          under qemu, the windows release under Wine) and the kill, load and
//                                          socket e2e files at full length, against the linux/amd64 release
//
// Before any test, it checks that every test file is in a group CI runs (scripts/test-groups.mjs), and fails
// if one is not. The node that runs this script runs the tests (and, in e2e, the npm build): put another Node
// first on PATH to test on it. Files run two at a time (2 cores). dist, soak and --release need the release:
// it is built once (every platform, scripts/release.mjs) into .tmp/test-release with its own copies of the
// manifests, and reused while dist/, the lock file and the release scripts are unchanged.
import { readdirSync, existsSync, rmSync, mkdirSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CORE_E2E, FOLDERS, FULL, SOAK_E2E, SOAK_ENV, ungrouped } from './test-groups.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const args = process.argv.slice(2);
const againstRelease = args.includes('--release');
const named = args.filter((a) => !a.startsWith('--'));
const groups = named.length ? named : FULL;
const RELEASE_OUT = join(root, '.tmp/test-release');
const RELEASE_EXE = join(root, '.tmp/release/linux_amd64/kubectl-oidc');

const problems = ungrouped(root);
if (problems.length) {
  console.error(`test files CI would not run:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
for (const g of groups) {
  if (!FOLDERS.includes(g) && g !== 'core') {
    console.error(`no test group ${g}: the groups are ${FOLDERS.join(', ')} and core`);
    process.exit(1);
  }
}

const e2eFile = (name) => join(root, `build/test/e2e/${name}.test.js`);

function testFiles(group) {
  if (group === 'core') return CORE_E2E.map(e2eFile);
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
  // The kill loop first: it is the longest (~10 min at 100), the others run one after another beside it.
  const soak = [...SOAK_E2E.map(e2eFile), ...testFiles('soak')];
  status = runTests(soak, { ...SOAK_ENV, KUBECTL_OIDC_TEST_PLUGIN: RELEASE_EXE });
}
const rest = [...new Set(groups.filter((g) => g !== 'soak').flatMap(testFiles))];
status = runTests(rest, againstRelease ? { KUBECTL_OIDC_TEST_PLUGIN: RELEASE_EXE } : {}) || status;
console.error(`tests (${groups.join(' ')}${againstRelease ? ' against the release executable' : ''}, node ${process.version}): ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(status);
