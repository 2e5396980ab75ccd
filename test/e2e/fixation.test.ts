/**
 * Issue 17, item 1: login fixation by another local user. The victim (root, as the test runs) logs
 * in with a real Chromium; the attacker is another uid (`ko-mallory`, created here) who can read
 * every process's argv in /proc and connect to every loopback port. He tries to finish the victim's
 * login with his own authorization code, so that the victim's kubectl acts as him.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createWorld, requireTools, run, ENTRY, type World } from './world.js';
import { browserCommand } from '../rig/browser.js';

const ATTACKER = 'ko-mallory';

/** The attacker's uid and gid, creating the user when missing; or why this test cannot run. */
function attackerIds(): { uid: number; gid: number } | string {
  if (process.getuid?.() !== 0) return 'needs root, to create a second user and run as it';
  for (const tool of ['/usr/sbin/useradd', '/usr/bin/setpriv']) if (!existsSync(tool)) return `${tool} is missing`;
  // Exit 9: the user exists already (an earlier run, or another test file at the same time).
  const r = spawnSync('/usr/sbin/useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ATTACKER], { encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 9) return `useradd failed: ${r.stderr.trim()}`;
  const id = (flag: string) => Number(execFileSync('id', [flag, ATTACKER], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

const tools = requireTools();
const ids = tools ? undefined : attackerIds();
const skip = tools ?? (typeof ids === 'string' ? ids : undefined);
if (typeof ids === 'string' && process.env.CI === 'true') throw new Error(ids);

/** Run argv as the attacker, with a home of his own (Chromium wants one). */
async function asAttacker(argv: string[], timeoutMs = 60_000) {
  const { uid, gid } = ids as { uid: number; gid: number };
  const home = mkdtempSync(join(tmpdir(), 'ko-mallory-'));
  chownSync(home, uid, gid);
  try {
    return await run('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...argv], { PATH: '/usr/bin:/bin', HOME: home, TMPDIR: home }, timeoutMs);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * The attacker's scan: every argv in /proc that mentions `marker` (the victim's browser launcher),
 * the login links in it, and for each file:// URL in it, the links in that file if he can read it.
 */
const SCAN = `
const fs = require('fs');
const marker = process.argv[1];
const out = { seen: 0, links: [], files: [], errors: [] };
const LINK = /https?:\\/\\/[^\\s"'<>]+\\/login\\/[\\w-]+/g;
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  let argv;
  try { argv = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0'); } catch { continue; }
  if (!argv.some((a) => a.includes(marker))) continue;
  out.seen++;
  for (const a of argv) {
    for (const m of a.matchAll(LINK)) out.links.push(m[0]);
    for (const m of a.matchAll(/file:\\/\\/\\S+/g)) {
      out.files.push(m[0]);
      try { for (const l of fs.readFileSync(new URL(m[0]), 'utf8').matchAll(LINK)) out.links.push(l[0]); }
      catch (e) { out.errors.push(e.code); }
    }
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** Wait for a file to appear (an event the browser script signals), bounded. */
async function waitForFile(path: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear within ${ms} ms`);
    await sleep(25);
  }
}

const withBrowser = (w: World, browser: string) => w.tokenArgs.map((a) => (a.startsWith('--browser-command=') ? `--browser-command=${browser}` : a));
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

test('login fixation: another local user cannot finish your login with his code', { skip, timeout: 240_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const attackerBrowser = (url: string) => asAttacker([...browserCommand({ spki: w.issuer.spki, login: 'mallory' }), url]);

  await t.test("the browser's command line gives him nothing: no link, and a page he cannot read", async () => {
    // The victim's browser launcher: it waits (its argv on show in /proc) until the attacker had
    // his go, then runs the real browser, which logs in as alice.
    const launched = join(w.dir, 'launched');
    const go = join(w.dir, 'attacker-done');
    const launcher = join(w.dir, 'victim-browser');
    writeFileSync(
      launcher,
      `#!/bin/sh\n: > ${quote(launched)}\ni=0; while [ ! -e ${quote(go)} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nexec ${browserCommand({ spki: w.issuer.spki, login: 'alice' }).map(quote).join(' ')} "$@"\n`,
    );
    chmodSync(launcher, 0o755);
    const login = w.plugin(['login', ...withBrowser(w, launcher)], { timeoutMs: 120_000 });
    await waitForFile(launched);
    const scan = await asAttacker([process.execPath, '-e', SCAN, launcher]);
    assert.equal(scan.code, 0, scan.stderr);
    const found = JSON.parse(scan.stdout) as { seen: number; links: string[]; files: string[]; errors: string[] };
    t.diagnostic(`attacker saw ${found.seen} process(es), links ${found.links.length}, files ${found.files.length}, errors ${found.errors.join(',')}`);
    assert.ok(found.seen > 0, 'the attacker can see the launcher in /proc');
    // Today's main: the link is right there. Use it as the attacker would: open it first and log in as mallory.
    for (const link of found.links) await attackerBrowser(link);
    writeFileSync(go, '');
    const r = await login;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /logged in as alice@example\.com/);
    assert.doesNotMatch(r.stderr, /mallory/);
    assert.deepEqual(found.links, [], 'no login link in any argv or in a file the attacker can read');
    assert.ok(found.files.length > 0 && found.errors.every((e) => e === 'EACCES'), `the page is private: ${found.errors.join(',')}`);
  });

  await t.test("with the login's state (say it leaked), his code is still refused; then your own browser finishes the login", async () => {
    await w.plugin(['logout', ...w.tokenArgs]);
    const authz = join(w.dir, 'authz-url');
    const launcher = join(w.dir, 'pausing-browser');
    writeFileSync(launcher, `#!/bin/sh\nexec ${browserCommand({ spki: w.issuer.spki, login: 'alice', pauseAtIssuer: authz }).map(quote).join(' ')} "$@"\n`);
    chmodSync(launcher, 0o755);
    w.issuer.resetStats();
    const login = w.plugin(['login', ...withBrowser(w, launcher)], { timeoutMs: 120_000 });
    // The victim's browser is at the issuer's login page; the attacker gets its URL (state, nonce,
    // PKCE challenge and redirect URI), logs in there as mallory and is sent to the victim's callback.
    await waitForFile(authz);
    const url = readFileSync(authz, 'utf8');
    assert.match(url, /[?&]state=/);
    const attack = await attackerBrowser(url);
    assert.equal(attack.code, 0, `the attacker's browser reached the callback: ${attack.stderr}`);
    writeFileSync(`${authz}.go`, '');
    const r = await login;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /logged in as alice@example\.com/);
    assert.doesNotMatch(r.stderr, /mallory/);
    assert.equal(w.issuer.stats.tokenRequests.authorization_code, 1, "only the victim's code was exchanged");
    assert.match(r.stderr, /warning: a browser that did not open this login's link sent a login callback; it was refused/);
  });

  await t.test('--skip-open-browser: the link printed for opening by hand logs you in, once; afterwards it is dead', async () => {
    await w.plugin(['logout', ...w.tokenArgs]);
    const child = spawn(process.execPath, [ENTRY, 'login', ...w.tokenArgs, '--skip-open-browser'], { env: { ...process.env, ...w.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no link printed: ${stderr}`)), 30_000);
      child.stderr!.on('data', (d) => {
        stderr += d;
        const m = /Open this URL in your browser to log in:\n {2}(http:\/\/localhost:\d+\/login\/[\w-]+)\n/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    assert.doesNotMatch(stderr, /state=|\/dex\/auth/, 'the authorization URL (its state) is never printed');
    const person = await run(browserCommand({ spki: w.issuer.spki, login: 'alice' })[0]!, [...browserCommand({ spki: w.issuer.spki, login: 'alice' }).slice(1), link], { ...process.env }, 60_000);
    assert.equal(person.code, 0, person.stderr);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /logged in as alice@example\.com/);
    // Someone who reads the scrollback now: the link leads nowhere.
    const later = await asAttacker([process.execPath, '-e', `fetch(process.argv[1], { redirect: 'manual' }).then((r) => console.log(r.status), (e) => console.log('refused'))`, link]);
    assert.match(later.stdout.trim(), /^(refused|400)$/);
  });
});
