// Build: tsc (type-check, and build/ for the tests; incremental) then esbuild bundles in dist/:
//   cli.cjs           the CLI; get-token's whole path, node:* only (a CommonJS file starts fastest)
//   kubectl-oidc.cjs  the npm package's entry (cmd/npm-entry.cjs, with lib/app-dirs.ts inlined): runs cli.cjs
//                     with Node's compile cache
//   main.cjs          the agent, stores and the other commands, loaded on demand
//   oidc.cjs          openid-client, jose, undici: loaded by the agent on its first login or refresh
//   yaml.cjs          the yaml package: loaded by setup and login --context, to read a kubeconfig
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

if (!process.argv.includes('--no-tsc')) {
  // Incremental (tsc -b): nothing changed is a timestamp check (~0.5 s), a change recompiles what depends on
  // it (a few s), instead of ~7 s every time. What tsc knows is in build/tsconfig.tsbuildinfo, so `rm -rf build`
  // is a clean build. tsc never deletes an output whose source is gone: pruneStale does, or a moved or deleted
  // test file would still run from build/.
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'tsconfig.json', '--incremental'], { stdio: 'inherit' });
  pruneStale('build');
}

/** Removes build/X.js and build/X.js.map when X.ts is gone (tsconfig's rootDir is the checkout). */
function pruneStale(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) pruneStale(p);
    else if (/\.js(\.map)?$/.test(e.name) && !existsSync(p.slice('build/'.length).replace(/\.js(\.map)?$/, '.ts'))) rmSync(p);
  }
}

/**
 * esbuild leaves import() of a built-in or an external as import(): turn those of built-ins and of the
 * keyring into require. Any other import("…") fails the build.
 */
function lazyRequires(src) {
  const out = src.replace(/\bimport\(("node:[a-z_/]+"|"@napi-rs\/keyring")\)/g, 'Promise.resolve().then(() => require($1))');
  const left = /\bimport\("[^"]*"\)/.exec(out);
  if (left) throw new Error(`dist/cli.cjs still has a dynamic import(): ${left[0]}`);
  return out;
}

const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', logLevel: 'warning', legalComments: 'none' };

// The entry's `import('../lib/main.js')` becomes a lazy require('./main.cjs') next to it (see below).
const heavyExternal = {
  name: 'heavy-external',
  setup(b) {
    b.onResolve({ filter: /\/main\.js$/ }, (args) => (args.importer.endsWith('kubectl-oidc.ts') ? { path: './main.cjs', external: true } : undefined));
  },
};

await build({ ...common, entryPoints: ['cmd/kubectl-oidc.ts'], outfile: 'dist/cli.cjs', plugins: [heavyExternal] });
// The agent's `import('../oidc/issuer.js')` becomes require('./oidc.cjs'): a cached token needs no HTTP stack.
const oidcExternal = {
  name: 'oidc-external',
  setup(b) {
    b.onResolve({ filter: /\/oidc\/issuer\.js$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './oidc.cjs', external: true } : undefined));
  },
};

// And `import('yaml')` becomes require('./yaml.cjs'): only setup and login --context read a kubeconfig,
// and the yaml package is half of everything else the agent would compile at its start.
const yamlExternal = {
  name: 'yaml-external',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, (args) => (args.kind === 'dynamic-import' ? { path: './yaml.cjs', external: true } : undefined));
  },
};

await build({ ...common, entryPoints: ['lib/main.ts'], outfile: 'dist/main.cjs', external: ['@napi-rs/keyring'], plugins: [oidcExternal, yamlExternal] });
await build({ ...common, entryPoints: ['lib/oidc/issuer.ts'], outfile: 'dist/oidc.cjs' });
await build({ ...common, stdin: { contents: "module.exports = require('yaml');", resolveDir: root, sourcefile: 'yaml-entry.cjs' }, outfile: 'dist/yaml.cjs' });
// kubectl's plugin completion convention: an executable named kubectl_complete-oidc on the PATH.
await build({ ...common, entryPoints: ['cmd/kubectl_complete-oidc.ts'], outfile: 'dist/kubectl_complete-oidc.cjs' });

// esbuild keeps import() of an external as import(), which sends a CommonJS file through the ESM
// loader (it scans the whole bundle for exports): ~30 ms on a cold start. require() it instead.
for (const [file, dep] of [['dist/cli.cjs', './main.cjs'], ['dist/main.cjs', './oidc.cjs'], ['dist/main.cjs', './yaml.cjs']]) {
  const src = readFileSync(file, 'utf8');
  const from = `import(${JSON.stringify(dep)})`;
  if (!src.includes(from)) throw new Error(`${file}: expected ${from}`);
  writeFileSync(file, src.split(from).join(`Promise.resolve().then(() => require(${JSON.stringify(dep)}))`));
}
// import() of a built-in in a CommonJS file goes through the ESM loader: require() it instead (the same
// for Bun, which compiles this file into the release executable).
writeFileSync('dist/cli.cjs', lazyRequires(readFileSync('dist/cli.cjs', 'utf8').replace(/^#![^\n]*\n/, '')));
chmodSync('dist/cli.cjs', 0o644);
// The npm entry runs before any bundle is loaded: the one module it needs (env-paths' rule, for the
// compile cache's dir) is inlined, and ./cli.cjs stays a require of the file beside it.
await build({ ...common, entryPoints: ['cmd/npm-entry.cjs'], outfile: 'dist/kubectl-oidc.cjs', external: ['./cli.cjs'] });
chmodSync('dist/kubectl-oidc.cjs', 0o755);
chmodSync('dist/kubectl_complete-oidc.cjs', 0o755);
