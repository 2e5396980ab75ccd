// The release executable: Bun's `bun build --compile` over the esbuild bundles that scripts/build.mjs
// writes to dist/ (run it first). Not over the TypeScript entry: Bun's bundler puts its own built-in
// `undici` in place of the package, and that one ignores the dispatcher's CA, so TLS to an issuer with
// a private CA fails. The esbuild bundles already carry undici 7 (dist/oidc.cjs): Bun only wraps them.
//
// The executable is its own agent: lib/runtime.ts tells it that it is compiled, and get-token starts
// `<executable> agent --daemon` (no script argument, no node:sea).
//
// The OS keyring's N-API addon (@napi-rs/keyring) is NOT embedded. The executable loads it from a file
// named `keyring.node` beside itself (`dirname(process.execPath)/keyring.node`), with process.dlopen:
// - the archive for each platform carries that platform's addon under that name (scripts/release.mjs,
//   from the matching `@napi-rs/keyring-<platform>` package), so a cross-compile needs no foreign
//   package installed here;
// - Bun loads an embedded addon by first writing it to a temporary file and opening that: a file in
//   a shared temp dir on every keyring use, which beside-the-executable avoids;
// - without the file the keyring is "absent" and the token store falls back to files, saying so once
//   (lib/store/keyring.ts maps "Cannot find module" to that).
//
// Bun's own start-up conveniences are turned off: a compiled executable would otherwise read `.env` and
// `bunfig.toml` from the current directory, and kubectl runs us in whatever directory the user is in
// (a `.env` there could set HTTPS_PROXY or NODE_EXTRA_CA_CERTS for our requests).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** The targets the release is built for (Bun's names). */
export const TARGETS = ['bun-linux-x64', 'bun-linux-arm64', 'bun-darwin-x64', 'bun-darwin-arm64', 'bun-windows-x64'];

/** The name of the keyring addon the executable loads from its own directory. */
export const KEYRING_ADDON = 'keyring.node';

/** The pinned Bun (devDependency `bun`) that compiles: the host's binary. */
export function bunBinary() {
  return join(dirname(require.resolve('bun/package.json')), 'bin', 'bun.exe');
}

// A function, not a module that throws: Bun's bundled require() keeps a module whose top level threw,
// and the next require() would get its empty exports ("undefined is not a constructor").
const KEYRING_SHIM = `'use strict';
// The compiled executable's @napi-rs/keyring: the addon beside the executable (scripts/bun-compile.mjs).
let addon;
exports.load = () => {
  if (addon) return addon;
  const { dirname, join } = require('node:path');
  const file = join(dirname(process.execPath), ${JSON.stringify(KEYRING_ADDON)});
  const m = { exports: {} };
  try {
    process.dlopen(m, file);
  } catch (err) {
    throw new Error(\`Cannot find module \${file} (${KEYRING_ADDON} must sit beside the executable): \${err.message}\`, { cause: err });
  }
  return (addon = m.exports);
};
`;

/**
 * Compile the release executable for `target` (one of TARGETS, or any target `bun build` accepts) into
 * `outfile`, from dist/ (scripts/build.mjs). Bun fetches another platform's runtime from the npm registry
 * (`@oven/bun-<os>-<arch>`) the first time. Returns `{ outfile }`: the file written (for a Windows
 * target, `outfile` with `.exe` added if it lacked it). The caller puts `keyring.node` (KEYRING_ADDON),
 * the target platform's @napi-rs/keyring addon, beside it in the archive.
 */
export async function compile({ target, outfile }) {
  const out = resolve(outfile);
  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true });
  // The staging dir's name does not reach the executable: its bytes depend only on dist/, the target
  // and outfile's base name (two checkouts of a commit build the same file).
  mkdirSync(join(root, 'build'), { recursive: true });
  const stage = mkdtempSync(join(root, 'build', 'bun-compile-'));
  try {
    stageBundles(join(root, 'dist'), stage);
    execFileSync(
      bunBinary(),
      [
        'build',
        '--compile',
        '--bytecode',
        `--target=${target}`,
        '--no-compile-autoload-dotenv',
        '--no-compile-autoload-bunfig',
        '--no-compile-autoload-tsconfig',
        '--no-compile-autoload-package-json',
        `--outfile=${out}`,
        'cli.cjs',
      ],
      { cwd: stage, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  // Bun names a Windows executable *.exe even when told otherwise: return the file it wrote.
  if (!existsSync(out) && existsSync(`${out}.exe`)) return { outfile: `${out}.exe` };
  if (!existsSync(out)) throw new Error(`bun build --compile wrote no ${out}`);
  return { outfile: out };
}

/** dist/'s bundles as Bun compiles them: the keyring from beside the executable, no build path. */
function stageBundles(dist, stage) {
  for (const name of ['cli.cjs', 'main.cjs', 'oidc.cjs', 'yaml.cjs']) {
    let src = readFileSync(join(dist, name), 'utf8');
    if (name === 'main.cjs') {
      const from = 'import("@napi-rs/keyring")';
      if (!src.includes(from)) throw new Error(`dist/main.cjs: expected ${from}`);
      src = src.split(from).join('Promise.resolve().then(() => require("./keyring-beside.cjs").load())');
    }
    // Bun writes a module's build path in for __filename: name it by the bundle instead.
    if (/\b__dirname\b/.test(src)) throw new Error(`dist/${name} uses __dirname: give it a fixed value in scripts/bun-compile.mjs`);
    src = src.replace(/\b__filename\b/g, JSON.stringify(`kubectl-oidc/${name}`));
    writeFileSync(join(stage, name), src);
  }
  writeFileSync(join(stage, 'keyring-beside.cjs'), KEYRING_SHIM);
}

// `node scripts/bun-compile.mjs [target] [outfile]`: the host's executable by default.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const host = `bun-${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const target = process.argv[2] ?? host;
  const outfile = process.argv[3] ?? join(root, 'build', 'bin', target, target.includes('windows') ? 'kubectl-oidc.exe' : 'kubectl-oidc');
  const { outfile: made } = await compile({ target, outfile });
  process.stdout.write(`${made}\n`);
}
