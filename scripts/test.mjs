// Runs every test file once: unit, rig self-tests, end-to-end, dist (the release and the npm package).
// Files run two at a time (2 cores); the slow end-to-end scenarios each start one issuer, one API server
// and one agent. For dist, the release (single executables and archives) is built once, here, first.
import { readdirSync, existsSync, rmSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const groups = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'rig', 'e2e', 'dist'];
const files = [];
for (const g of groups) {
  const dir = join(root, 'build/test', g);
  if (!existsSync(dir)) {
    console.error(`no compiled tests in ${dir}: run npm run build first`);
    process.exit(1);
  }
  for (const f of readdirSync(dir).sort()) if (f.endsWith('.test.js')) files.push(join(dir, f));
}
if (groups.includes('dist')) {
  // linux/amd64 is installed and run by the tests; linux/arm64 is built and run under qemu by the
  // release itself. windows and darwin need 60 MB more from the registry per run: `npm run release`.
  const out = join(root, '.tmp/test-release');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(join(root, 'krew.yaml'), join(out, 'krew.yaml'));
  const rel = spawnSync(process.execPath, ['scripts/release.mjs', '--no-build', '--platforms', 'linux/amd64,linux/arm64', '--out', out, '--manifest', join(out, 'krew.yaml')], { stdio: 'inherit', cwd: root });
  if (rel.status !== 0) {
    console.error('building the test release failed');
    process.exit(1);
  }
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
