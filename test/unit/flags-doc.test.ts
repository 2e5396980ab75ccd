/**
 * docs/flags.md is generated from the flag table (scripts/gen-docs.mjs, `npm run docs`): it must be what
 * the script writes from today's lib/flags/ (table.ts, help.ts), so the reference never drifts from `--help`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TOKEN_FLAGS_HELP } from '../../lib/flags/help.js';
import { FLAG_VALUES, TOKEN_FLAGS } from '../../lib/flags/table.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const config = { TOKEN_FLAGS, TOKEN_FLAGS_HELP, FLAG_VALUES };
type Render = (c: { TOKEN_FLAGS: typeof config.TOKEN_FLAGS; TOKEN_FLAGS_HELP: string; FLAG_VALUES: typeof config.FLAG_VALUES }) => string;
const loadRender = async (): Promise<Render> => (await import(pathToFileURL(join(root, 'scripts/gen-docs.mjs')).href)).render;

test('docs/flags.md is what `npm run docs` writes from the flag table', async () => {
  const render = await loadRender();
  const want = render(config);
  const got = readFileSync(join(root, 'docs/flags.md'), 'utf8');
  assert.ok(got === want, 'docs/flags.md differs from the flag table in lib/flags/: run `npm run docs` and commit docs/flags.md');
  for (const flag of Object.keys(config.TOKEN_FLAGS)) assert.ok(got.includes(`\`--${flag}`), `--${flag} is in docs/flags.md`);
  for (const [flag, values] of Object.entries(config.FLAG_VALUES)) for (const v of values ?? []) assert.ok(got.includes(`\`${v}\``), `--${flag} value ${v}`);
});

test('the generator sees a flag added to the table or its help (so the check above can fail)', async () => {
  const render = await loadRender();
  const base = render(config);
  const withMadeUp = { ...config.TOKEN_FLAGS, 'made-up-flag': { type: 'string' } } as unknown as typeof config.TOKEN_FLAGS;
  const added = render({ ...config, TOKEN_FLAGS: withMadeUp });
  assert.notEqual(added, base);
  assert.match(added, /\| `--made-up-flag` \| a value \|/);
  const help = config.TOKEN_FLAGS_HELP.replace('\n  --force-refresh', '\n  --made-up-flag=X   does something new\n  --force-refresh');
  assert.match(render({ ...config, TOKEN_FLAGS_HELP: help }), /\| `--made-up-flag=X` \| does something new \|/);
});

/** What is wrong with a help text: a flag it names that the table lacks, or a described flag's word it leaves out. */
async function helpProblems(help: string): Promise<string[]> {
  const { parseHelp } = (await import(pathToFileURL(join(root, 'scripts/gen-docs.mjs')).href)) as { parseHelp: (h: string) => { entries: { syntax: string; meaning: string }[] } };
  const problems = [...help.matchAll(/--([\w-]+)/g)].map((m) => m[1]!).filter((f) => !(f in TOKEN_FLAGS)).map((f) => `--${f} is not in TOKEN_FLAGS`);
  for (const [flag, words] of Object.entries(FLAG_VALUES)) {
    const entry = parseHelp(help).entries.find((e) => e.syntax.startsWith(`--${flag}=`));
    if (!entry) continue; // named in the closing prose only (--oidc-pkce-method)
    for (const w of words ?? []) if (!new RegExp(`(^|[\\s,(])${w}([\\s,)]|$)`).test(entry.meaning)) problems.push(`--${flag}: its help leaves out ${w}`);
  }
  return problems;
}

test('the help text names only flags of the table, and each value list it describes is the whole of FLAG_VALUES', async () => {
  assert.deepEqual(await helpProblems(TOKEN_FLAGS_HELP), []);
  assert.deepEqual(await helpProblems(TOKEN_FLAGS_HELP.replace(', file or none', ' or file')), ['--token-cache-storage: its help leaves out none']);
  assert.deepEqual(await helpProblems(`${TOKEN_FLAGS_HELP}\n--no-such-flag`), ['--no-such-flag is not in TOKEN_FLAGS']);
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
