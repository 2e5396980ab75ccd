/**
 * docs/flags.md is generated from the flag table (scripts/gen-docs.mjs, `npm run docs`): it must be what
 * the script writes from today's lib/config.ts, so the reference never drifts from `--help`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as config from '../../lib/config.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
type Render = (c: { TOKEN_FLAGS: typeof config.TOKEN_FLAGS; TOKEN_FLAGS_HELP: string; FLAG_VALUES: typeof config.FLAG_VALUES }) => string;
const loadRender = async (): Promise<Render> => (await import(pathToFileURL(join(root, 'scripts/gen-docs.mjs')).href)).render;

test('docs/flags.md is what `npm run docs` writes from the flag table', async () => {
  const render = await loadRender();
  const want = render(config);
  const got = readFileSync(join(root, 'docs/flags.md'), 'utf8');
  assert.ok(got === want, 'docs/flags.md differs from the flag table in lib/config.ts: run `npm run docs` and commit docs/flags.md');
  for (const flag of Object.keys(config.TOKEN_FLAGS)) assert.ok(got.includes(`\`--${flag}`), `--${flag} is in docs/flags.md`);
  for (const [flag, values] of Object.entries(config.FLAG_VALUES)) for (const v of values ?? []) assert.ok(got.includes(`\`${v}\``), `--${flag} value ${v}`);
});

test('the generator sees a flag added to the table or its help (so the check above can fail)', async () => {
  const render = await loadRender();
  const base = render(config);
  const TOKEN_FLAGS = { ...config.TOKEN_FLAGS, 'made-up-flag': { type: 'string' } } as unknown as typeof config.TOKEN_FLAGS;
  const added = render({ ...config, TOKEN_FLAGS });
  assert.notEqual(added, base);
  assert.match(added, /\| `--made-up-flag` \| a value \|/);
  const help = config.TOKEN_FLAGS_HELP.replace('\n  --force-refresh', '\n  --made-up-flag=X   does something new\n  --force-refresh');
  assert.match(render({ ...config, TOKEN_FLAGS_HELP: help }), /\| `--made-up-flag=X` \| does something new \|/);
});

test('gen-docs --check agrees (what the lead runs after merging flags)', () => {
  const r = spawnSync(process.execPath, [join(root, 'scripts/gen-docs.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

test('every relative link in README.md and docs/ names a file (and heading) that exists', () => {
  const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  let links = 0;
  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      links++;
      const [file, hash] = target.split('#') as [string, string | undefined];
      const path = file === '' ? join(root, page) : join(root, dirname(page), file);
      assert.ok(existsSync(path), `${page}: ${target} does not exist`);
      if (hash !== undefined) {
        const headings = [...readFileSync(path, 'utf8').matchAll(/^#+ (.+)$/gm)].map((h) => anchor(h[1]!.replace(/`/g, '')));
        assert.ok(headings.includes(hash), `${page}: ${target}: no heading #${hash} (has ${headings.join(', ')})`);
      }
    }
  }
  assert.ok(links > 20, `links checked: ${links}`);
});
