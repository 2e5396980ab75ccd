/**
 * Nothing escapes CI: every test file is in a group that scripts/ci.sh runs (scripts/test-groups.mjs, which
 * scripts/test.mjs also checks before any test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type Groups = { ungrouped(root: string): string[]; CORE_E2E: string[]; SOAK_E2E: string[] };
const groups = async () => (await import(pathToFileURL(join(ROOT, 'scripts/test-groups.mjs')).href)) as Groups;

test('every *.test.ts under test/ is in a group that scripts/ci.sh runs', async () => {
  const { ungrouped } = await groups();
  assert.deepEqual(ungrouped(ROOT), []);
});

test('a test file outside the groups, a named e2e file that is gone and a tier ci.sh dropped are each reported', async (t) => {
  const { ungrouped, CORE_E2E, SOAK_E2E } = await groups();
  const root = mkdtempSync(join(tmpdir(), 'ko-groups-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const put = (rel: string, text = '') => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  const ci = readFileSync(join(ROOT, 'scripts/ci.sh'), 'utf8');
  put('scripts/ci.sh', ci);
  for (const n of [...CORE_E2E, ...SOAK_E2E]) put(`test/e2e/${n}.test.ts`);
  put('test/unit/a.test.ts');
  put('test/e2e/world.ts');
  assert.deepEqual(ungrouped(root), [], 'the planted tree is whole');

  put('test/e2e/more/b.test.ts');
  put('test/slow/c.test.ts');
  rmSync(join(root, `test/e2e/${CORE_E2E[0]}.test.ts`));
  put('scripts/ci.sh', ci.replace(/^tier .*node scripts\/test\.mjs soak\s*$/m, ''));
  const problems = ungrouped(root);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /test\/e2e\/more\/b\.test\.ts is in no test group/);
  assert.match(problems.join('\n'), /test\/slow\/c\.test\.ts is in no test group/);
  assert.match(problems.join('\n'), new RegExp(`test/e2e/${CORE_E2E[0]}\\.test\\.ts \\(named in scripts/test-groups\\.mjs\\) does not exist`));
  assert.match(problems.join('\n'), /scripts\/ci\.sh has no tier running `node scripts\/test\.mjs soak`/);
});
