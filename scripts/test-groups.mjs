// Which test file runs in which tier. scripts/test.mjs runs them; test/unit/test-groups.test.ts and
// scripts/test.mjs itself check that every test file is in a group that CI (scripts/ci.sh) runs.
//
// A group is a folder of test/ (its *.test.ts files, not its subfolders), or `core`: the e2e files that prove
// the product works, which `npm test` runs after the unit tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** unit: pure and fast, no external program; integration: real external parts (gnome-keyring, systemd-analyze,
 * Bun, other Node versions, spawned processes); rig: the e2e fixtures; e2e: real kubectl, Chromium, issuer and
 * API server; dist: the release; soak: the release under qemu and Wine. */
export const FOLDERS = ['unit', 'integration', 'rig', 'e2e', 'dist', 'soak'];
/** The full suite (`node scripts/test.mjs` with no group): every folder but soak, which is its own tier. */
export const FULL = ['unit', 'integration', 'rig', 'e2e', 'dist'];
/** `npm test`'s e2e files: log in and get a token through kubectl, the agent, clear errors, setup, status and logout. */
export const CORE_E2E = ['core', 'agent', 'errors', 'setup', 'status-logout'];
/** The e2e files the soak tier runs again, long (their defaults in the e2e group are short), kill first. */
export const SOAK_E2E = ['kill', 'load', 'socket'];
export const SOAK_ENV = { KUBECTL_OIDC_KILL_LOOPS: '100', KUBECTL_OIDC_LOAD_SECONDS: '60', KUBECTL_OIDC_SOCKET_FRAMES: '10000' };

/** The tiers scripts/ci.sh must run, as `node scripts/test.mjs ARGS` (the full suite has no ARGS). */
const CI_RUNS = ['', 'soak'];

/**
 * What would escape CI, as sentences (empty when nothing does): a test file outside every group, a core or soak
 * e2e name with no file, a tier scripts/ci.sh no longer runs. `root` is a checkout (the sources, not build/).
 */
export function ungrouped(root) {
  const problems = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.test.ts')) {
        const parts = rel.split('/');
        if (parts.length !== 3 || !FOLDERS.includes(parts[1])) problems.push(`${rel} is in no test group (groups are the folders test/{${FOLDERS.join(',')}}/, not their subfolders)`);
      }
    }
  };
  walk('test');
  const ran = new Set([...FULL, 'soak']);
  for (const f of FOLDERS) if (!ran.has(f)) problems.push(`test/${f}/ is in neither the full suite nor soak`);
  for (const n of [...CORE_E2E, ...SOAK_E2E]) if (!existsSync(join(root, 'test/e2e', `${n}.test.ts`))) problems.push(`test/e2e/${n}.test.ts (named in scripts/test-groups.mjs) does not exist`);
  const ci = readFileSync(join(root, 'scripts/ci.sh'), 'utf8');
  for (const args of CI_RUNS) {
    const line = new RegExp(`^tier .*node scripts/test\\.mjs${args ? ` ${args}` : ''}\\s*$`, 'm');
    if (!line.test(ci)) problems.push(`scripts/ci.sh has no tier running \`node scripts/test.mjs${args ? ` ${args}` : ''}\``);
  }
  return problems;
}
