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
import { waitFor } from '../support/wait.js';

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
  // Every request the page sends to the callback, until it has an answer or has failed.
  const inFlight = new Set<unknown>();
  let sent = 0;
  page.on('request', (req) => {
    if (req.url().startsWith(target)) (inFlight.add(req), sent++);
  });
  const settled = (req: unknown) => inFlight.delete(req);
  page.on('requestfinished', settled);
  page.on('requestfailed', settled);
  // The page's script ends with the form POST, which navigates to the callback: wait for its answer.
  const posted = page.waitForResponse((res) => res.url().startsWith(target) && res.request().method() === 'POST' && res.request().isNavigationRequest(), { timeout: 20_000 });
  await page.goto(evilUrl);
  await posted;
  await page.waitForLoadState('load');
  await waitFor(() => inFlight.size === 0, 20_000, 'every cross-site request to the callback to be answered or fail');
  t.diagnostic(`${sent} cross-site requests reached the callback listener`);
  assert.ok(sent >= 2, `the page's requests were sent (${sent})`);
  assert.equal(seen.accepted, undefined, 'no request from the cross-site page completed the login');

  // The listener still serves the real callback.
  const res = await fetch(`${target}/?code=real&state=${state}`);
  assert.equal(res.status, 200); // answered only after the callback handler above has recorded it
  const got: URLSearchParams | undefined = seen.accepted as URLSearchParams | undefined;
  assert.equal(got?.get('code'), 'real');
});
