/**
 * Issue 11, hostile input: a web page on another origin, open in the user's real browser while a
 * login waits, sends requests to the loopback callback (images, fetches, a form POST, a navigation
 * with a guessed state). None is accepted, the listener keeps working, and the real callback then is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { startLoopback } from '../../lib/login/loopback.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? undefined : process.env.CI === 'true' ? undefined : 'no /usr/bin/chromium';

test('a cross-site page in Chromium cannot complete or break the loopback login', { skip, timeout: 60_000 }, async (t) => {
  const state = 'the-real-state-abcdef0123456789';
  const loopback = await startLoopback(['127.0.0.1:0'], state);
  t.after(() => loopback.close());
  const seen: { accepted?: URLSearchParams } = {};
  void loopback.callback.then((r) => {
    seen.accepted = r.params;
    r.respond(true, 'ok');
  }, () => {});
  const target = `http://127.0.0.1:${loopback.port}`;

  // The attacker's page, on another origin (another port): it knows the callback's port, not the state.
  const evil = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><body>
<img src="${target}/?code=evil&state=guess1">
<iframe src="${target}/?code=evil&state=guess2"></iframe>
<form id="f" method="POST" action="${target}/?state=${state}"><input name="code" value="evil"></form>
<script>
  fetch('${target}/?code=evil&state=guess3', { mode: 'no-cors' }).catch(() => {});
  fetch('${target}/?code=evil&state=${state}', { method: 'POST', mode: 'no-cors', body: 'code=evil' }).catch(() => {});
  document.getElementById('f').submit();
</script></body></html>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  t.after(() => evil.close());
  const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(evilUrl);
  await page.waitForLoadState('load');
  await new Promise((r) => setTimeout(r, 1_000)); // the form POST navigates; the fetches settle
  assert.equal(seen.accepted, undefined, 'no request from the cross-site page completed the login');

  // The listener still serves the real callback.
  const res = await fetch(`${target}/?code=real&state=${state}`);
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 50));
  const got: URLSearchParams | undefined = seen.accepted as URLSearchParams | undefined;
  assert.equal(got?.get('code'), 'real');
});
