#!/usr/bin/env node
// kubectl-oidc's entry in the npm package (scripts/build.mjs bundles it, with lib/app-dirs.ts inlined, to
// dist/kubectl-oidc.cjs): it runs ./cli.cjs, with Node's own compile cache (module.enableCompileCache,
// Node >= 22.1) kept in the user's cache dir, so that the CLI, the agent (main.cjs) and the HTTP stack
// (oidc.cjs) are not compiled from source at every start.
//
// Compiled code is code: the cache is used only in a directory of yours that nobody else can write, and
// that is not a symbolic link, nor is its parent (`~/.cache/kubectl-oidc/compile-cache`, checked at every
// start before Node reads it). Node checks each entry against the source and its own checksum; a cache
// that does not fit is recompiled. KUBECTL_OIDC_CODE_CACHE=0 turns it off; KUBECTL_OIDC_DEBUG=1 says
// why it is not used. On Windows, where file modes say nothing of this, it is not used. NODE_COMPILE_CACHE,
// if you set it, is Node's and wins.
'use strict';
const { appDirs } = require('../lib/app-dirs.ts');
const env = process.env;

function say(message) {
  if (env.KUBECTL_OIDC_DEBUG === '1') process.stderr.write(`kubectl-oidc: compile cache: ${message}\n`);
}

/** kubectl-oidc's cache dir (the agent's, and the client's fallback socket dir's parent); undefined: no caching. */
function cacheRoot() {
  const home = env.HOME;
  if (!home || !require('node:path').isAbsolute(home)) return undefined;
  return appDirs({ platform: process.platform, home, env, absoluteXdgOnly: true }).cache;
}

/** A real directory (not a link), yours, that nobody else can write. */
function isPrivateDir(fs, dir) {
  const st = fs.lstatSync(dir);
  return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

function enableCompileCache() {
  const { enableCompileCache } = require('node:module');
  if (env.KUBECTL_OIDC_CODE_CACHE === '0' || typeof enableCompileCache !== 'function' || typeof process.getuid !== 'function') return;
  const root = cacheRoot();
  if (!root) return;
  const dir = require('node:path').join(root, 'compile-cache');
  const fs = require('node:fs');
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!isPrivateDir(fs, root) || !isPrivateDir(fs, dir)) return say(`not used: ${dir} or its parent is a symbolic link, or not a private directory of yours`);
    enableCompileCache(dir);
  } catch (err) {
    say(`not used: ${err.code ?? err.message}`);
  }
}

if (process.platform !== 'win32') enableCompileCache();
require('./cli.cjs');
