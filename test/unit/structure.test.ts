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
  assert.deepEqual([...new Set([...entry.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1]))].sort(), ['./cli.cjs', 'node:fs', 'node:module', 'node:path']);
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
