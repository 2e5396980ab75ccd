#!/usr/bin/env node
// kubectl-oidc's entry in the npm package (scripts/build.mjs writes it to dist/kubectl-oidc.cjs).
//
// It runs ./cli.cjs, the CLI and get-token's whole path, compiled from a V8 code cache kept in the
// user's cache dir: kubectl starts get-token for every command, and compiling get-token's functions
// from source costs ~10% of a Node start on every run. The single executable carries its own cache
// (scripts/sea-build.mjs); this is the same for an npm install.
//
// The cache is written once, after a get-token that succeeded (so it holds that path compiled), for
// this build of cli.cjs, this node, and these V8 flags (NODE_OPTIONS, execArgv): one file each. It is
// read only when it is the user's own, not writable by others, and its CRC-32 matches: V8 checks its
// version and flags but not the bytes, and a damaged cache must be a cache miss, never a crash.
// KUBECTL_OIDC_CODE_CACHE=0 turns it off; KUBECTL_OIDC_DEBUG=1 says what it does.
'use strict';
const fs = require('node:fs');
const { dirname, isAbsolute, join } = require('node:path');
const { Script } = require('node:vm');

const BUILD = '__BUILD_ID__';
const MAGIC = 0x31434f4b; // "KOC1"
const HEADER = 8;
const MAX_BYTES = 16 << 20;
const KEEP = 8;
const env = process.env;
const program = join(__dirname, 'cli.cjs');
const ownUid = typeof process.getuid === 'function' ? process.getuid() : undefined;

function say(message) {
  if (env.KUBECTL_OIDC_DEBUG !== '1') return;
  try {
    fs.writeSync(2, `kubectl-oidc: code cache: ${message}\n`);
  } catch {}
}

/** Where env-paths puts kubectl-oidc's cache (as the agent does), plus /code; undefined: no caching. */
function cacheDir() {
  if (env.KUBECTL_OIDC_CODE_CACHE === '0') return undefined;
  if (process.platform === 'win32') return env.LOCALAPPDATA ? join(env.LOCALAPPDATA, 'kubectl-oidc', 'Cache', 'code') : undefined;
  const home = env.HOME;
  if (!home || !isAbsolute(home)) return undefined;
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'kubectl-oidc', 'code');
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(home, '.cache'), 'kubectl-oidc', 'code');
}

/**
 * CRC-32 of `bytes`: zlib's, from its binding (node:zlib itself loads the whole streams stack, ~2 ms);
 * node:zlib under --pending-deprecation, where process.binding would print a warning.
 */
function crc32(bytes) {
  const pending = env.NODE_PENDING_DEPRECATION === '1' || process.execArgv.includes('--pending-deprecation') || /(^|\s)--pending-deprecation\b/.test(env.NODE_OPTIONS ?? '');
  let fn;
  if (!pending) {
    try {
      fn = process.binding('zlib').crc32;
    } catch {}
  }
  if (typeof fn !== 'function') fn = require('node:zlib').crc32;
  return fn(bytes, 0) >>> 0;
}

/** Yours, and none of `bits` set. On Windows, whose file modes say nothing of this, never: no cache there. */
function isPrivate(st, bits) {
  return (ownUid === undefined || st.uid === ownUid) && (st.mode & bits) === 0;
}

/** The cached bytes for V8, or undefined (none, not ours, damaged). */
function load(file) {
  let fd;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0));
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !isPrivate(st, 0o022) || st.size <= HEADER || st.size > MAX_BYTES) {
      say(`${file} not used: not a private file of yours`);
      return undefined;
    }
    const buf = fs.readFileSync(fd);
    const data = buf.subarray(HEADER);
    if (buf.length !== st.size || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== crc32(data)) {
      say(`${file} is damaged: compiling from source`);
      return undefined;
    }
    return data;
  } catch (err) {
    if (err.code !== 'ENOENT') say(`${file} not read: ${err.code ?? err.message}`);
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Write the cache atomically (a temp file renamed over it), 0600 in a 0700 dir; never fails the command. */
function save(file, script) {
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivate(fs.lstatSync(dir), 0o077)) {
      say(`not written: ${dir} is not a private directory of yours`);
      return;
    }
    const head = Buffer.alloc(HEADER);
    head.writeUInt32LE(MAGIC, 0);
    head.writeUInt32LE(crc32(data), 4);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, head);
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    say(`written ${file}`);
    prune(dir, file);
  } catch (err) {
    say(`not written: ${err.code ?? err.message}`);
    try {
      fs.unlinkSync(tmp);
    } catch {}
  }
}

/** Keep the newest few caches (other versions, nodes, flags), and no temp file a killed writer left. */
function prune(dir, keep) {
  const now = Date.now();
  const caches = [];
  for (const name of fs.readdirSync(dir)) {
    const path = join(dir, name);
    if (path === keep) continue;
    try {
      const st = fs.lstatSync(path);
      if (name.endsWith('.tmp') && now - st.mtimeMs > 60_000) fs.unlinkSync(path);
      else if (name.endsWith('.v8')) caches.push({ path, mtime: st.mtimeMs });
    } catch {}
  }
  caches.sort((a, b) => b.mtime - a.mtime);
  for (const c of caches.slice(KEEP - 1)) {
    try {
      fs.unlinkSync(c.path);
    } catch {}
  }
}

const dir = cacheDir();
const flags = `${process.execArgv.join(' ')}|${env.NODE_OPTIONS ?? ''}`;
const file = dir && join(dir, `${BUILD}-${process.version}-${process.platform}-${process.arch}${flags === '|' ? '' : `-${crc32(Buffer.from(flags)).toString(16)}`}.v8`);
const cachedData = file && load(file);
const source = `(function (exports, require, module, __filename, __dirname) {${fs.readFileSync(program, 'utf8')}\n})`;
const script = new Script(source, { filename: program, ...(cachedData ? { cachedData } : {}) });
if (cachedData && script.cachedDataRejected) say(`${file} does not fit this node: compiling from source`);
if (file && (!cachedData || script.cachedDataRejected) && process.argv[2] === 'get-token') {
  process.once('exit', (code) => {
    if (code === 0) save(file, script);
  });
}
script.runInThisContext()(module.exports, require, module, program, __dirname);
