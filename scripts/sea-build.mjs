// Builds the single executable (Node SEA) from the three bundles that scripts/build.mjs writes:
//   dist/kubectl-oidc.cjs  the entry and get-token: runs at start, from the startup snapshot
//   dist/main.cjs          the agent and the other commands  } embedded, compiled only when a command
//   dist/oidc.cjs          openid-client, jose, undici       } other than get-token needs them
//
// A SEA's main script can require only Node's built-ins (Node 20), so the script made here gives the
// bundles a `require` of its own: './main.cjs' and './oidc.cjs' come from the executable itself,
// '@napi-rs/keyring' from keyring.node beside the executable (shipped in the archive), anything else
// is a built-in. How the heavy half is embedded is the `heavy` mode:
//   'function'  its source inside a function that the get-token path never calls: with useCodeCache
//               V8 deserialises only what the top level compiled, and that function stays a lazy stub
//   'asset'     its source as a SEA asset, read with node:sea and compiled with node:vm on first use
// scripts/sea-measure.mjs measures both; release.mjs uses DEFAULT_HEAVY (see the numbers there).
//
// The entry starts from a V8 startup snapshot (useSnapshot): the script runs at build time, loads the
// entry's modules, and runs get-token once for real against a stand-in agent (its socket client, the
// frame reader, the credential), so the executable starts with all of it loaded and compiled. Nothing
// at build time may load node:net (the stand-in agent is served with libuv's pipe handle too): whatever
// the build loads is deserialised on every start, and node:net alone costs 2 ms of it. The snapshot
// builder runs the script with `require` only, and the deserialised main function is called in place of
// the entry's own main() call. Measured against `node -e 0` (README, Performance): with useCodeCache
// instead, get-token's functions and node's own socket code compile on every run (1.33x against 1.08x).
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
// Measured with scripts/sea-measure.mjs (paired medians against `node -e 0`, 20 runs, 2 cores): `--version`
// 1.13x with 'function' and 1.01x with 'asset'; `agent --help` 1.41x and 1.45x. The hot path wins.
export const DEFAULT_HEAVY = 'asset';

/**
 * esbuild leaves import() of a built-in or an external as import(), which has no loader in a SEA: turn
 * those of built-ins and of the keyring into the SEA's require. Any other import("…") fails the build.
 */
function lazyRequires(src) {
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
 * The entry bundle ends by running main(): make that `__seaStart = () => main()…` so the snapshot builder
 * can load the entry without running a command, and add the warm-up it runs at build time: the paths
 * get-token takes (flag parsing, exec info, the credential), with inputs that touch no file or socket.
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
  parseExecInfo('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}\\n', false);
  return __seaRoundTrip();
};
// get-token once for real, against a stand-in agent on a socket in a private temporary dir: the socket
// client (the pipe handle, our frame reader, the credential) runs once at build time, so the snapshot
// holds it compiled. Nothing of it stays: the server, the dir and the environment are undone.
function __seaRoundTrip() {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubectl-oidc-sea-'));
  fs.chmodSync(dir, 0o700);
  const env = { KUBECTL_OIDC_RUNTIME_DIR: dir, XDG_STATE_HOME: dir };
  // The stand-in agent is served with libuv's pipe handle too: node:net in the build would be node:net
  // in the snapshot, and that alone costs every start 2 ms.
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
 * The SEA's main script. `distDir` holds the three bundles. Returns { script, assets }: assets (for the
 * 'asset' mode) map an asset name to a file path.
 */
export function seaScript(distDir, heavy = DEFAULT_HEAVY, workDir = join(distDir, 'sea')) {
  const entry = startable(moduleBody(join(distDir, 'kubectl-oidc.cjs')));
  const heavyFiles = { './main.cjs': join(distDir, 'main.cjs'), './oidc.cjs': join(distDir, 'oidc.cjs') };
  const assets = {};
  let loaders;
  if (heavy === 'function') {
    loaders = Object.entries(heavyFiles)
      .map(([id, file], i) => `function __seaModule${i}(${MODULE_ARGS}) {\n${moduleBody(file)}\n}\n__seaLoaders[${JSON.stringify(id)}] = __seaModule${i};`)
      .join('\n');
  } else if (heavy === 'asset') {
    const tmp = workDir;
    mkdirSync(tmp, { recursive: true });
    loaders = Object.entries(heavyFiles)
      .map(([id, file]) => {
        const name = id.slice(2);
        const path = join(tmp, name);
        writeFileSync(path, moduleBody(file));
        assets[name] = name; // relative to workDir, where the blob is made: no build path in the executable
        return `__seaLoaders[${JSON.stringify(id)}] = (...args) => require('node:vm').compileFunction(require('node:sea').getAsset(${JSON.stringify(name)}, 'utf8'), [${MODULE_ARGS.split(', ').map((a) => `'${a}'`).join(', ')}], { filename: ${JSON.stringify(`kubectl-oidc/${name}`)} })(...args);`;
      })
      .join('\n');
  } else {
    throw new Error(`unknown heavy mode ${heavy}`);
  }
  const script = `'use strict';
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
${loaders}
let __seaStart;
let __seaWarmUp;
// The snapshot builder runs this script with \`require\` only (no module, __filename, __dirname).
const __seaModule = { exports: {} };
(function (${MODULE_ARGS}) {
${entry}
})(__seaModule.exports, __seaRequire, __seaModule, process.execPath, require('node:path').dirname(process.execPath));
// With useSnapshot this script runs at build time: the entry's modules (node:net and the rest) are loaded
// and what get-token runs is compiled then, and kept in the snapshot; the executable starts from there.
const { startupSnapshot } = require('node:v8');
if (startupSnapshot.isBuildingSnapshot()) {
  __seaWarmUp().catch((err) => {
    process.exitCode = 1;
    console.error(\`kubectl-oidc: the snapshot warm-up failed: \${require("node:util").inspect(err)}\`);
  });
  startupSnapshot.setDeserializeMainFunction(() => __seaStart());
} else {
  __seaStart();
}
`;
  return { script, assets };
}

/**
 * Make `out`: a copy of `nodeBinary` with the SEA blob injected. `blobNode` is the command that runs
 * `--experimental-sea-config` (a code cache is only valid for the platform that made it: for another
 * architecture run that platform's node under qemu; for one that cannot run here pass codeCache false).
 */
export async function buildSea({ distDir, nodeBinary, out, workDir, heavy = DEFAULT_HEAVY, snapshot = true, codeCache = false, blobNode = [process.execPath], format }) {
  mkdirSync(workDir, { recursive: true });
  const { script, assets } = seaScript(distDir, heavy, workDir);
  const main = join(workDir, 'sea-main.cjs');
  const blob = join(workDir, 'sea-prep.blob');
  writeFileSync(main, script);
  // Relative paths (the blob is made in workDir): the executable records the main script's path.
  const config = { main: 'sea-main.cjs', output: 'sea-prep.blob', disableExperimentalSEAWarning: true, useCodeCache: codeCache && !snapshot, useSnapshot: snapshot, ...(Object.keys(assets).length ? { assets } : {}) };
  const configFile = join(workDir, 'sea-config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const [cmd, ...pre] = blobNode;
  // Warnings silenced: the snapshot builder says node:tty is "not yet fully verified" in a snapshot (the
  // entry only calls its isatty(), which keeps no state), and that SEA is experimental.
  execFileSync(cmd, [...pre, '--experimental-sea-config', configFile], { stdio: ['ignore', 'ignore', 'inherit'], cwd: workDir, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
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
  return { out, scriptBytes: Buffer.byteLength(script), blobBytes: readFileSync(blob).length };
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
