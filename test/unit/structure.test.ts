import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../../lib/version.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

test('lib/version.ts matches package.json', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});

/** Static imports reachable from get-token: only node:* and the shared light modules. */
test('the get-token path imports no heavy module', () => {
  const seen = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    // `import ... from 'x'` and `export ... from 'x'`, not `import('x')` (lazy loads are allowed).
    for (const m of src.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (/^(?:import|export)\s+type\s/.test(m[0].trim())) continue; // erased by the compiler
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else external.add(spec);
    }
  };
  visit(join(root, 'cmd/kubectl-oidc.ts'));
  const nonNode = [...external].filter((s) => !s.startsWith('node:'));
  assert.deepEqual(nonNode, [], `only node:* modules on the get-token path, found: ${nonNode.join(', ')}`);
  const heavyDirs = [...seen].map((f) => f.slice(root.length + 1)).filter((f) => /^lib\/(agent|oidc|store|login)\/|^lib\/main\.ts$/.test(f));
  assert.deepEqual(heavyDirs, [], 'get-token must not load lib/agent, lib/oidc, lib/store, lib/login or lib/main');
  assert.ok(seen.size > 3, 'the walk found the client modules');
});

test('the built entry and CLI bundle require only node:* modules', () => {
  let src: string;
  try {
    src = readFileSync(join(root, 'dist/cli.cjs'), 'utf8');
  } catch {
    assert.fail('dist/cli.cjs is missing: run `npm run build` first');
  }
  const entry = readFileSync(join(root, 'dist/kubectl-oidc.cjs'), 'utf8');
  assert.deepEqual([...new Set([...entry.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]))].sort(), ['./cli.cjs', 'node:fs', 'node:module', 'node:path']);
  assert.doesNotMatch(src, /\bimport\(/, 'no import() (a CommonJS import() goes through the ESM loader)');
  const reqs = [...src.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.ok(reqs.length > 0);
  assert.deepEqual(reqs.filter((r) => !r!.startsWith("node:")), ["./main.cjs"], "only node:* and, lazily, the heavy half");
  assert.match(src, /\(\) => require\("\.\/main\.cjs"\)\)/, 'the heavy half is loaded lazily, with require');
});

test('the agent bundle leaves the HTTP/OIDC stack to dist/oidc.cjs, loaded lazily', () => {
  const main = readFileSync(join(root, 'dist/main.cjs'), 'utf8');
  assert.match(main, /\(\) => require\("\.\/oidc\.cjs"\)\)/);
  for (const marker of ['undici', 'openid-client', 'oauth4webapi']) assert.ok(!main.includes(marker), `dist/main.cjs contains ${marker}`);
  assert.ok(readdirSync(join(root, 'dist')).includes('oidc.cjs'));
});

/** Data goes one way: commands use the client and the agent, never the other way round. */
test('lib/agent, lib/client, lib/oidc, lib/login and lib/store never import lib/commands or lib/main', () => {
  const offenders: string[] = [];
  for (const dir of ['agent', 'client', 'oidc', 'login', 'store']) {
    for (const f of readdirSync(join(root, 'lib', dir))) {
      if (!f.endsWith('.ts')) continue;
      const src = readFileSync(join(root, 'lib', dir, f), 'utf8');
      for (const m of src.matchAll(/^\s*import\s(?!type\s)[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        if (/\/(commands\/|main\.js)/.test(m[1]!)) offenders.push(`lib/${dir}/${f} -> ${m[1]}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test('one request handler: the socket server and the in-process fallback both call handleRequest, and nobody else switches on ops', () => {
  const server = readFileSync(join(root, 'lib/agent/server.ts'), 'utf8');
  const main = readFileSync(join(root, 'lib/main.ts'), 'utf8');
  assert.match(server, /handleRequest\(/);
  assert.match(main, /handleRequest\(/);
  for (const [name, src] of [['server', server], ['main', main]] as const) assert.doesNotMatch(src, /case 'token'|case 'ping'|switch \(req\.op\)|req\.op ===/, `${name} has its own op switch`);
});

/**
 * The dependency rule: which part of lib/ may import which. A part is a folder (lib/agent) or a
 * top-level file (lib/cli); a file may have its own row (lib/commands/agent.ts runs the agent).
 * Every static `import … from` and `export … from` in every .ts file under lib/ and cmd/ is checked,
 * type imports included: an edge allowed only for types is listed under `types` (a `type` in the braces
 * of a value import does not count as type-only). `import()` (lazy loads) is not checked.
 * A part may always import itself; every part may import BASE.
 */
const BASE = ['lib/errors', 'lib/printable', 'lib/time', 'lib/version', 'lib/runtime', 'lib/log', 'lib/jwt', 'lib/paths', 'lib/app-dirs', 'lib/exec-credential'];
const LAYERS: Record<string, { imports: string[]; types?: string[] }> = {
  // the leaves: each may import the others, nothing else
  ...Object.fromEntries(BASE.map((b) => [b, { imports: [] }])),
  'lib/io': { imports: [], types: ['lib/protocol'] },
  'lib/cli': { imports: [] },
  // the flag table, its help, Go spellings, parsing and the typed parts' validators: below everything that reads flags
  'lib/flags': { imports: ['lib/cli', 'lib/oidc/provider'] },
  'lib/kubeconfig': { imports: [] },
  // wire types, frames and version rules only: both sides import it, it imports neither (requests are parsed in lib/agent)
  'lib/protocol': { imports: [] },
  'lib/completion': { imports: ['lib/flags', 'lib/cli'] },
  'lib/oidc': { imports: [] },
  'lib/store': { imports: [], types: ['lib/flags'] },
  'lib/login': { imports: ['lib/oidc', 'lib/store'], types: ['lib/flags'] },
  'lib/agent': { imports: ['lib/oidc', 'lib/store', 'lib/login', 'lib/protocol', 'lib/flags', 'lib/socket'] },
  'lib/socket': { imports: [] },
  'lib/client': { imports: ['lib/protocol', 'lib/io', 'lib/socket'] },
  'lib/commands': { imports: ['lib/client', 'lib/socket', 'lib/protocol', 'lib/io', 'lib/flags', 'lib/cli', 'lib/kubeconfig'] },
  'lib/commands/agent.ts': { imports: ['lib/commands', 'lib/client', 'lib/socket', 'lib/protocol', 'lib/io', 'lib/flags', 'lib/cli', 'lib/agent'] },
  'lib/main': { imports: ['lib/commands', 'lib/agent', 'lib/protocol', 'lib/io'] },
  cmd: { imports: ['lib/commands', 'lib/completion', 'lib/io'] },
};

/** 'lib/agent/server.ts' -> ['lib/agent/server.ts', 'lib/agent/server', 'lib/agent']; 'lib/cli.ts' -> [.., 'lib/cli']. */
function partsOf(rel: string): string[] {
  const noExt = rel.replace(/\.ts$/, '');
  const segs = noExt.split('/');
  return [...new Set([rel, noExt, segs[0] === 'cmd' ? 'cmd' : segs.slice(0, 2).join('/')])];
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** The wrong-way imports in `files` (paths relative to the repo root, with their text). */
function wrongWayImports(files: { rel: string; src: string }[]): string[] {
  const offenders: string[] = [];
  for (const { rel, src } of files) {
    const own = partsOf(rel);
    const row = LAYERS[rel] ?? LAYERS[own[own.length - 1]!];
    if (!row) {
      offenders.push(`${rel}: no row in the dependency table`);
      continue;
    }
    for (const m of src.matchAll(/^\s*(import|export)\s+(type\s)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[3]!;
      if (!spec.startsWith('.')) continue;
      const target = join(dirname(rel), spec).replace(/\.js$/, '.ts');
      const theirs = partsOf(target);
      if (theirs[theirs.length - 1] === own[own.length - 1]) continue; // within its own part
      const allowed = [...BASE, ...row.imports, ...(m[2] ? row.types ?? [] : [])];
      if (theirs.some((p) => allowed.includes(p))) continue;
      offenders.push(`${rel} -> ${spec}${m[2] ? ' (type)' : ''}`);
    }
  }
  return offenders;
}

test('the dependency rule: every import under lib/ and cmd/ goes the allowed way', () => {
  const files = [...tsFiles('lib'), ...tsFiles('cmd')].map((rel) => ({ rel, src: readFileSync(join(root, rel), 'utf8') }));
  assert.ok(files.length > 40, `walked ${files.length} files`);
  assert.deepEqual(wrongWayImports(files), []);
});

test('the dependency rule catches a planted wrong-way import, type imports included', () => {
  const plant = (rel: string, src: string) => wrongWayImports([{ rel, src }]);
  assert.deepEqual(plant('lib/client/transport.ts', "import { startAgent } from '../agent/server.js';\n"), ['lib/client/transport.ts -> ../agent/server.js']);
  assert.deepEqual(plant('lib/oidc/issuer.ts', "import type {\n  ProviderConfig,\n} from '../flags/table.js';\n"), ['lib/oidc/issuer.ts -> ../flags/table.js (type)']);
  assert.deepEqual(plant('lib/store/file.ts', "import { parseTokenFlags } from '../flags/parse.js';\n"), ['lib/store/file.ts -> ../flags/parse.js']);
  // lib/flags sits below every reader of flags: it never imports one of them, not even for a type.
  assert.deepEqual(plant('lib/flags/parse.ts', "import type { Registry } from '../agent/registry.js';\n"), ['lib/flags/parse.ts -> ../agent/registry.js (type)']);
  assert.deepEqual(plant('lib/flags/validate.ts', "import { send } from '../client/transport.js';\n"), ['lib/flags/validate.ts -> ../client/transport.js']);
  assert.deepEqual(plant('lib/flags/help.ts', "export { x } from '../commands/setup.js';\n"), ['lib/flags/help.ts -> ../commands/setup.js']);
  assert.deepEqual(plant('lib/flags/table.ts', "import { x } from '../store/select.js';\n"), ['lib/flags/table.ts -> ../store/select.js']);
  assert.deepEqual(plant('lib/flags/parse.ts', "import { parseFlags } from '../cli.js';\nimport type { ProviderConfig } from '../oidc/provider.js';\nimport { OidcError } from '../errors.js';\nimport { obj } from './validate.js';\n"), []);
  assert.deepEqual(plant('lib/commands/status.ts', "export { probeSocket } from '../agent/server.js';\n"), ['lib/commands/status.ts -> ../agent/server.js']);
  assert.deepEqual(plant('lib/errors.ts', "import { send } from './client/transport.js';\n"), ['lib/errors.ts -> ./client/transport.js']);
  assert.deepEqual(plant('lib/store/file.ts', "import type { StorageSetting } from '../flags/table.js';\nimport { x } from './key.js';\nimport { y } from '../paths.js';\n"), []);
  assert.deepEqual(plant('lib/commands/agent.ts', "import { startAgent } from '../agent/server.js';\n"), []);
  assert.deepEqual(plant('lib/newdir/x.ts', ''), ['lib/newdir/x.ts: no row in the dependency table']);
  assert.deepEqual(plant('lib/protocol/wire.ts', "import type { TokenFlags } from '../flags/table.js';\nimport { parseRequest } from '../agent/request.js';\nimport { x } from './frames.js';\n"), ['lib/protocol/wire.ts -> ../flags/table.js (type)', 'lib/protocol/wire.ts -> ../agent/request.js']);
  assert.deepEqual(plant('lib/protocol/frames.ts', "import { pickEnv } from '../client/env.js';\n"), ['lib/protocol/frames.ts -> ../client/env.js']);
});

/** Every source file that may use an export: lib, cmd, test (all tiers), scripts. */
function sourceFiles(): string[] {
  const walk = (d: string): string[] =>
    readdirSync(join(root, d), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : /\.(ts|mjs|cjs)$/.test(e.name) ? [join(d, e.name)] : []));
  return ['lib', 'cmd', 'test', 'scripts'].flatMap(walk);
}

/** Values (not types: those name the parts of exported signatures) exported from lib/ that no other file names. */
function singleUseExports(files: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [file, src] of files) {
    if (!file.startsWith('lib/') || !file.endsWith('.ts')) continue;
    for (const m of src.matchAll(/^export (?:async )?(?:const|let|function|class) (\w+)/gm)) {
      const word = new RegExp(`\\b${m[1]}\\b`);
      if (![...files].some(([other, text]) => other !== file && word.test(text))) found.push(`${file}: ${m[1]}`);
    }
  }
  return found;
}

test('no value is exported that only its own file uses', () => {
  const files = new Map(sourceFiles().map((f) => [f, readFileSync(join(root, f), 'utf8')]));
  assert.ok(files.size > 100, `the walk found the sources (${files.size})`);
  assert.deepEqual(singleUseExports(files), []);
  // Planted: an export nobody imports is found (its name is built here, so this file does not name it).
  const name = ['planted', 'only', 'here'].join('_');
  files.set('lib/planted.ts', `export const ${name} = 1;\nexport function usedElsewhere() {}\n`);
  files.set('lib/user.ts', "import { usedElsewhere } from './planted.js';\n");
  assert.deepEqual(singleUseExports(files), [`lib/planted.ts: ${name}`]);
});
