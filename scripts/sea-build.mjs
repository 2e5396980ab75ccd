// Builds the single executable (Node SEA) from the three bundles that scripts/build.mjs writes:
//   dist/cli.cjs           the entry and get-token         } SEA assets, compiled by the executable
//   dist/main.cjs          the agent and the other commands } itself: the entry at start, the other two
//   dist/oidc.cjs          openid-client, jose, undici      } only when a command other than get-token needs them
//   dist/yaml.cjs          the yaml package                 }
//
// A SEA's main script can require only Node's built-ins (Node 20), so the program made here gives the
// bundles a `require` of its own: './main.cjs', './oidc.cjs' and './yaml.cjs' come from the executable itself,
// '@napi-rs/keyring' from keyring.node beside the executable (shipped in the archive), anything else
// is a built-in.
//
// How it starts fast: the program (the entry and its loaders) is compiled with node:vm from V8's code
// cache, and that cache is made at build time *after* get-token has run once for real against a
// stand-in agent, so it holds every function get-token runs, compiled. Node's own `useCodeCache` only
// holds what the top level compiles (get-token's functions would compile on every run), and a startup
// snapshot (`useSnapshot`) refuses to start at all when NODE_OPTIONS carries a V8 flag such as
// --max-old-space-size ("Failed to load the startup snapshot…", exit 14): common on developers'
// machines, and the agent runs with such flags itself. A code cache that does not fit (other V8 flags,
// another platform's build) is ignored, and the program compiles from source: slower, never broken.
// Measured against `node -e 0` (40 paired runs): this 1.02-1.04x, the snapshot 1.07-1.10x, useCodeCache
// 1.14-1.17x; `--version` 0.97x.
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * esbuild leaves import() of a built-in or an external as import(), which has no loader in a SEA or in
 * code compiled by node:vm (the npm entry runs dist/cli.cjs so): turn those of built-ins and of the
 * keyring into require. Any other import("…") fails the build.
 */
export function lazyRequires(src) {
  const out = src.replace(/\bimport\(("node:[a-z_/]+"|"@napi-rs\/keyring")\)/g, 'Promise.resolve().then(() => require($1))');
  const left = /\bimport\("[^"]*"\)/.exec(out);
  if (left) throw new Error(`a bundle still has a dynamic import() the SEA cannot serve: ${left[0]}`);
  return out;
}

/** The bundle as the body of a CommonJS module function (no shebang; "use strict" stays a directive). */
function moduleBody(file) {
  return lazyRequires(readFileSync(file, 'utf8').replace(/^#![^\n]*\n/, ''));
}

const MODULE_ARGS = 'exports, require, module, __filename, __dirname';

/**
 * The entry bundle ends by running main(): make that `__seaStart = () => main()…` so the build can load
 * the entry without running a command, and add the warm-up it runs before it makes the code cache.
 */
function startable(src) {
  const at = src.lastIndexOf('\nmain().then(');
  if (at < 0) throw new Error('the entry bundle does not end with main().then(…): update sea-build.mjs');
  const warmUp = `
__seaWarmUp = () => {
  const argv = process.argv;
  try {
    process.argv = [argv[0], argv[0], 'get-token', '--help'];
    void main().catch(() => {});
  } finally {
    process.argv = argv;
    process.exitCode = undefined;
  }
  return __seaRoundTrip();
};
// get-token once for real, against a stand-in agent on a socket in a private temporary dir: the socket
// client (the pipe handle, our frame reader, the credential) runs once at build time, so the code cache
// holds it compiled. Nothing of it stays: the server and the dir are removed.
function __seaRoundTrip() {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-oidc-sea-'));
  fs.chmodSync(dir, 0o700);
  const env = { KUBECTL_OIDC_RUNTIME_DIR: dir, XDG_STATE_HOME: dir };
  // The stand-in agent is served with libuv's pipe handle, as the client uses it.
  const { Pipe, constants } = process.binding('pipe_wrap');
  const { WriteWrap } = process.binding('stream_wrap');
  const server = new Pipe(constants.SERVER);
  const fail = (what, code) => { throw new Error(\`the stand-in agent could not \${what} (\${code})\`); };
  let code = server.bind(path.join(dir, 'agent.sock'));
  if (code < 0) fail('bind', code);
  server.onconnection = (status, client) => {
    if (status < 0 || !client) return;
    client.onread = () => {
      const req = new WriteWrap();
      req.handle = client;
      req.oncomplete = () => {};
      req.async = false;
      client.writeUtf8String(req, encodeFrame({ t: 'token', token: 'a.b.c', expiresAt: 2000000000 }));
      client.readStop();
      client.close();
    };
    client.readStart();
  };
  code = server.listen(8);
  if (code < 0) fail('listen', code);
  const info = '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}';
  const io = { argv: ['--oidc-issuer-url=https://issuer.invalid', '--oidc-client-id=x', '--oidc-extra-scope=email'], env: { ...process.env, ...env, KUBERNETES_EXEC_INFO: info }, cwd: process.cwd(), stdinIsTTY: async () => false, stdout: (t) => { out += t; }, stderr: (t) => { err += t; }, self: [process.execPath], loadInProcess: () => Promise.reject(new Error(\`the stand-in agent was not used: \${err}\`)) };
  let out = '';
  let err = '';
  return getToken(io)
    .then(() => {
      if (!out.includes('"token":"a.b.c"') || err !== '') throw new Error(\`the build-time get-token did not print the stand-in token: \${JSON.stringify({ out, err })}\`);
    })
    .finally(() => {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
}
`;
  return `${src.slice(0, at)}\n${warmUp}\n__seaStart = () => ${src.slice(at + 1)}`;
}

/**
 * The program (a function of the SEA's `require`, returning `{ start, warmUp }`) and the assets it reads:
 * `program.js` itself and the heavy half, written to `workDir`.
 */
export function seaProgram(distDir, workDir) {
  mkdirSync(workDir, { recursive: true });
  const entry = startable(moduleBody(join(distDir, 'cli.cjs')));
  const assets = {};
  const loaders = ['main.cjs', 'oidc.cjs', 'yaml.cjs']
    .map((name) => {
      writeFileSync(join(workDir, name), moduleBody(join(distDir, name)));
      assets[name] = name; // relative to workDir, where the blob is made: no build path in the executable
      return `__seaLoaders['./${name}'] = (...args) => __seaCompile('${name}')(...args);`;
    })
    .join('\n');
  const program = `(function (require) {
'use strict';
// kubectl-oidc as a single executable: built by scripts/sea-build.mjs from dist/*.cjs.
const __seaLoaders = Object.create(null);
const __seaCache = Object.create(null);
function __seaRequire(id) {
  const cached = __seaCache[id];
  if (cached) return cached.exports;
  const load = __seaLoaders[id];
  if (load) {
    const m = { exports: {} };
    __seaCache[id] = m;
    load.call(m.exports, m.exports, __seaRequire, m, process.execPath, require('node:path').dirname(process.execPath));
    return m.exports;
  }
  if (id === '@napi-rs/keyring') return __seaKeyring();
  return require(id);
}
// The keyring's native addon cannot be embedded: the archive puts it beside the executable.
function __seaKeyring() {
  const path = require('node:path');
  const file = path.join(path.dirname(process.execPath), 'keyring.node');
  const m = { exports: {} };
  try {
    process.dlopen(m, file);
  } catch (err) {
    throw new Error(\`Cannot find module \${file} (keyring.node must sit beside the executable): \${err.message}\`, { cause: err });
  }
  return m.exports;
}
// A bundle as the body of a module function, compiled with node:vm. main.cjs (the agent and the other
// commands) has a code cache of its own, made at build time after its top level ran: every agent start
// and every command but get-token compiles it. Not oidc.cjs: the agent loads it after it has set its
// V8 heap flags (agent/heap.ts), and V8 refuses a cache made under other flags.
function __seaWrap(body) {
  return '(function (${MODULE_ARGS}) {' + body + '\\n})';
}
function __seaCompile(name) {
  const { getAsset } = require('node:sea');
  const cacheName = name === 'main.cjs' ? 'main.cache' : undefined;
  let cachedData;
  if (cacheName) {
    try {
      cachedData = new Uint8Array(getAsset(cacheName));
    } catch {}
  }
  const { Script } = require('node:vm');
  const script = new Script(__seaWrap(getAsset(name, 'utf8')), { filename: 'kubectl-oidc/' + name, ...(cachedData ? { cachedData } : {}) });
  if (cacheName && process.env.KUBECTL_OIDC_DEBUG === '1' && (!cachedData || script.cachedDataRejected)) {
    process.stderr.write(\`kubectl-oidc: \${cachedData ? \`the code cache of \${name} does not fit this run (V8 flags in NODE_OPTIONS?)\` : \`no code cache for \${name} in this executable\`}: compiling from source\\n\`);
  }
  return script.runInThisContext();
}
${loaders}
let __seaStart;
let __seaWarmUp;
const __seaModule = { exports: {} };
(function (${MODULE_ARGS}) {
${entry}
})(__seaModule.exports, __seaRequire, __seaModule, process.execPath, require('node:path').dirname(process.execPath));
return { start: () => __seaStart(), warmUp: () => __seaWarmUp(), wrap: __seaWrap, require: __seaRequire };
})`;
  writeFileSync(join(workDir, 'program.js'), program);
  assets['program.js'] = 'program.js';
  return { program, assets };
}

/** The SEA's main script: compile the program with its code cache (when there is one that fits) and start it. */
const SEA_MAIN = `'use strict';
const { getAsset } = require('node:sea');
const { Script } = require('node:vm');
let cachedData;
try {
  cachedData = new Uint8Array(getAsset('program.cache'));
} catch {}
// A cache that does not fit (NODE_OPTIONS with V8 flags) is ignored: the program compiles from source.
const program = new Script(getAsset('program.js', 'utf8'), { filename: 'kubectl-oidc/program.js', ...(cachedData ? { cachedData } : {}) });
if (process.env.KUBECTL_OIDC_DEBUG === '1' && (!cachedData || program.cachedDataRejected)) {
  process.stderr.write(\`kubectl-oidc: \${cachedData ? 'the code cache does not fit this run (V8 flags in NODE_OPTIONS?)' : 'no code cache in this executable'}: compiling from source\\n\`);
}
program.runInThisContext()(require).start();
`;

/**
 * Made by the target's own node (cacheNode: under qemu for another architecture): compile the program,
 * run get-token once against the stand-in agent, then write V8's code cache of everything compiled.
 * Its stdout (get-token --help, at warm-up) goes nowhere.
 */
const MAKE_CACHE = `'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const script = new Script(readFileSync('program.js', 'utf8'), { filename: 'kubectl-oidc/program.js' });
const program = script.runInThisContext()(require);
program.warmUp().then(
  () => {
    writeFileSync('program.cache', script.createCachedData());
    // main.cjs: compiled and its top level run (every module of the agent and the commands set up),
    // as the executable does it (the same wrapper text), then cached.
    const main = new Script(program.wrap(readFileSync('main.cjs', 'utf8')), { filename: 'kubectl-oidc/main.cjs' });
    const m = { exports: {} };
    main.runInThisContext()(m.exports, program.require, m, process.execPath, dirname(process.execPath));
    if (typeof m.exports.runCommand !== 'function') throw new Error('main.cjs did not export runCommand');
    writeFileSync('main.cache', main.createCachedData());
  },
).catch(
  (err) => {
    process.exitCode = 1;
    console.error(\`kubectl-oidc: the build-time warm-up failed: \${require('node:util').inspect(err)}\`);
  },
);
`;

/**
 * Make `out`: a copy of `nodeBinary` with the SEA blob injected. `cacheNode` is the command that runs
 * the target's node to make the code cache, or null for a platform that cannot run here (no cache: the
 * program compiles from source at every start there).
 */
export async function buildSea({ distDir, nodeBinary, out, workDir, cacheNode = [process.execPath], format }) {
  rmSync(workDir, { recursive: true, force: true });
  const { assets } = seaProgram(distDir, workDir);
  if (cacheNode) {
    writeFileSync(join(workDir, 'make-cache.cjs'), MAKE_CACHE);
    const [cmd, ...pre] = cacheNode;
    execFileSync(cmd, [...pre, 'make-cache.cjs'], { stdio: ['ignore', 'ignore', 'inherit'], cwd: workDir });
    assets['program.cache'] = 'program.cache';
    assets['main.cache'] = 'main.cache';
  }
  const main = join(workDir, 'sea-main.cjs');
  const blob = join(workDir, 'sea-prep.blob');
  writeFileSync(main, SEA_MAIN);
  // Relative paths (the blob is made in workDir): the executable records the main script's path. No
  // useCodeCache for this small script: a cache rejected under NODE_OPTIONS would print a warning.
  const config = { main: 'sea-main.cjs', output: 'sea-prep.blob', disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false, assets };
  const configFile = join(workDir, 'sea-config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  execFileSync(process.execPath, ['--experimental-sea-config', configFile], { stdio: ['ignore', 'ignore', 'inherit'], cwd: workDir, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
  rmSync(out, { force: true });
  copyFileSync(nodeBinary, out);
  chmodSync(out, 0o755);
  if (format === 'macho') stripMachoSignature(out);
  if (format === 'pe') stripPeSignature(out);
  const { inject } = require('postject');
  // postject warns "Can't find string offset for section name '.note…'" on ELF: harmless.
  const warn = console.warn;
  console.warn = (...a) => (/Can't find string offset/.test(String(a[0])) ? undefined : warn(...a));
  try {
    await inject(out, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE, machoSegmentName: 'NODE_SEA', overwrite: true });
  } finally {
    console.warn = warn;
  }
  return { out, blobBytes: readFileSync(blob).length, cached: Boolean(cacheNode) };
}

/**
 * Remove the code signature of a 64-bit Mach-O (what `codesign --remove-signature` does): the signature
 * would no longer match once the blob is injected, and an unsigned x86_64 binary runs where a broken
 * signature is refused. Drops LC_CODE_SIGNATURE and cuts the signature off the end of __LINKEDIT.
 */
export function stripMachoSignature(file) {
  const buf = readFileSync(file);
  if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error(`${file}: not a 64-bit little-endian Mach-O`);
  const ncmds = buf.readUInt32LE(16);
  const sizeofcmds = buf.readUInt32LE(20);
  const LC_CODE_SIGNATURE = 0x1d;
  const LC_SEGMENT_64 = 0x19;
  let off = 32;
  let sig;
  let linkedit;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(off);
    const size = buf.readUInt32LE(off + 4);
    if (cmd === LC_CODE_SIGNATURE) sig = { off, size, dataoff: buf.readUInt32LE(off + 8), datasize: buf.readUInt32LE(off + 12) };
    if (cmd === LC_SEGMENT_64 && buf.toString('latin1', off + 8, off + 24).replace(/\0+$/, '') === '__LINKEDIT') linkedit = off;
    off += size;
  }
  if (!sig) return false;
  if (linkedit === undefined) throw new Error(`${file}: no __LINKEDIT segment`);
  if (sig.dataoff + sig.datasize !== buf.length) throw new Error(`${file}: the code signature is not at the end of the file`);
  // Remove the load command: shift the following commands down, zero the freed tail.
  const end = 32 + sizeofcmds;
  buf.copy(buf, sig.off, sig.off + sig.size, end);
  buf.fill(0, end - sig.size, end);
  buf.writeUInt32LE(ncmds - 1, 16);
  buf.writeUInt32LE(sizeofcmds - sig.size, 20);
  if (linkedit > sig.off) linkedit -= sig.size;
  // __LINKEDIT: filesize (offset 48) and vmsize (offset 32) shrink by the signature.
  const fileSize = Number(buf.readBigUInt64LE(linkedit + 48)) - sig.datasize;
  buf.writeBigUInt64LE(BigInt(fileSize), linkedit + 48);
  const vmSize = Math.ceil(fileSize / 0x4000) * 0x4000;
  if (vmSize < Number(buf.readBigUInt64LE(linkedit + 32))) buf.writeBigUInt64LE(BigInt(vmSize), linkedit + 32);
  writeFileSync(file, buf.subarray(0, sig.dataoff));
  return true;
}

/**
 * Remove the Authenticode signature of a PE32+ file (what `signtool remove /s` does): it would no longer
 * match once the blob is injected. Clears the security data directory and cuts the certificate table off
 * the end of the file.
 */
export function stripPeSignature(file) {
  const buf = readFileSync(file);
  const pe = buf.readUInt32LE(0x3c);
  if (buf.toString('latin1', pe, pe + 4) !== 'PE\0\0') throw new Error(`${file}: not a PE file`);
  const opt = pe + 24;
  if (buf.readUInt16LE(opt) !== 0x20b) throw new Error(`${file}: not PE32+`);
  const dir = opt + 112 + 4 * 8; // data directory 4: the certificate table (a file offset, not an RVA)
  const offset = buf.readUInt32LE(dir);
  const size = buf.readUInt32LE(dir + 4);
  if (offset === 0 || size === 0) return false;
  if (offset + size !== buf.length) throw new Error(`${file}: the certificate table is not at the end of the file`);
  buf.writeUInt32LE(0, dir);
  buf.writeUInt32LE(0, dir + 4);
  writeFileSync(file, buf.subarray(0, offset));
  return true;
}
