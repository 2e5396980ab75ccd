import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startLoopback, parseListenAddress } from '../../lib/login/loopback.js';
import { isOidcError } from '../../lib/errors.js';
import { createServer } from 'node:net';

test('listen addresses: host:port and [v6]:port; garbage is a usage error', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:8000'), { host: '127.0.0.1', port: 8000 });
  assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
  for (const bad of ['8000', '127.0.0.1', 'host:99999', ':80']) assert.throws(() => parseListenAddress(bad), (e) => isOidcError(e, 'E_USAGE'), bad);
});

test('the first free address is used', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as { port: number }).port;
  const lb = await startLoopback([`127.0.0.1:${port}`, '127.0.0.1:0'], 's');
  assert.notEqual(lb.port, port);
  lb.close();
  busy.close();
});

test('no free address: a clear error', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const port = (busy.address() as { port: number }).port;
  await assert.rejects(startLoopback([`127.0.0.1:${port}`], 's'), (e) => isOidcError(e, 'E_CONFIG') && /cannot listen/.test((e as Error).message));
  busy.close();
});

test('only a callback with the right state is accepted, exactly once; the page tells the outcome', async () => {
  const lb = await startLoopback(['127.0.0.1:0'], 'good-state');
  const base = `http://127.0.0.1:${lb.port}`;
  const wrong = await fetch(`${base}/?code=x&state=bad`);
  assert.equal(wrong.status, 400);
  assert.equal((await fetch(`${base}/favicon.ico`)).status, 400);
  const pending = fetch(`${base}/?code=abc&state=good-state`);
  const cb = await lb.callback;
  assert.equal(cb.params.get('code'), 'abc');
  cb.respond(true, 'You are logged in <b>');
  const page = await pending;
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /You are logged in &#60;b&#62;/, 'escaped');
  assert.equal(page.headers.get('cache-control'), 'no-store');
  const again = await fetch(`${base}/?code=abc&state=good-state`).catch(() => undefined);
  assert.ok(!again || again.status === 400, 'a second callback is refused');
  lb.close();
});

// Issue 11, gap 8: the browser's command line shows only a one-time link.

test('the one-time login link redirects once to the issuer; a second use ends the login', async () => {
  const lb = await startLoopback(['127.0.0.1:0'], 'st');
  const target = 'https://issuer.example/auth?state=st&nonce=n&code_challenge=c';
  const link = lb.oneTimeUrl(target);
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/login\/[A-Za-z0-9_-]{32}$/);
  assert.doesNotMatch(link, /st|nonce|challenge/);
  const wrong = await fetch(link.replace(/\/login\/.*/, '/login/guess'), { redirect: 'manual' });
  assert.equal(wrong.status, 400, 'a guessed link is not the link');
  const first = await fetch(link, { redirect: 'manual' });
  assert.equal(first.status, 302);
  assert.equal(first.headers.get('location'), target);
  assert.equal(first.headers.get('cache-control'), 'no-store');
  const second = await fetch(link, { redirect: 'manual' });
  assert.equal(second.status, 400);
  await assert.rejects(lb.callback, (e) => isOidcError(e, 'E_LOGIN_FAILED') && /opened twice/.test((e as Error).message));
  const cb = await fetch(`http://127.0.0.1:${lb.port}/?code=x&state=st`);
  assert.equal(cb.status, 400, 'no callback is accepted after that');
  lb.close();
});

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const s = createServer().once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});

test('a localhost redirect: the callback is taken on 127.0.0.1 and ::1 alike', { skip: hasIpv6 ? undefined : 'no ::1 here' }, async () => {
  const lb = await startLoopback(['127.0.0.1:0'], 'st6', { bothLoopbacks: true });
  const pending = fetch(`http://[::1]:${lb.port}/?code=six&state=st6`);
  const cb = await lb.callback;
  assert.equal(cb.params.get('code'), 'six');
  cb.respond(true, 'ok');
  assert.equal((await pending).status, 200);
  lb.close();
});

test('a localhost redirect: a port whose ::1 side another program holds is skipped', { skip: hasIpv6 ? undefined : 'no ::1 here' }, async () => {
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(0, '::1', () => r()));
  const port = (squatter.address() as { port: number }).port;
  try {
    const lb = await startLoopback([`127.0.0.1:${port}`, '127.0.0.1:0'], 's', { bothLoopbacks: true });
    assert.notEqual(lb.port, port);
    lb.close();
    await assert.rejects(startLoopback([`127.0.0.1:${port}`], 's', { bothLoopbacks: true }), (e) => isOidcError(e, 'E_CONFIG'));
  } finally {
    squatter.close();
  }
});

// Issue 17, item 1: the callback completes only for the browser that opened the login link.

test('after the link is opened, a callback with the right state but without its cookie is refused; with it, accepted', async () => {
  let foreign = 0;
  const lb = await startLoopback(['127.0.0.1:0'], 'st17', { bothLoopbacks: true, onForeignCallback: () => foreign++ });
  const link = lb.oneTimeUrl('https://issuer.example/auth?state=st17', `http://localhost:${lb.port}`);
  assert.match(link, new RegExp(`^http://localhost:${lb.port}/login/`), 'on the redirect URI host, where the cookie must live');
  const hop = await fetch(link, { redirect: 'manual' });
  assert.equal(hop.status, 302);
  const setCookie = hop.headers.get('set-cookie')!;
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  assert.match(setCookie, /Path=\//);
  const cookie = setCookie.split(';')[0]!;
  const base = `http://127.0.0.1:${lb.port}`;
  // Another person's browser, which learnt the state but never opened the link: refused, login goes on.
  const noCookie = await fetch(`${base}/?code=mallory&state=st17`);
  assert.equal(noCookie.status, 400);
  assert.match(await noCookie.text(), /did not start this login/);
  const wrongCookie = await fetch(`${base}/?code=mallory&state=st17`, { headers: { cookie: `${cookie.split('=')[0]}=guess` } });
  assert.equal(wrongCookie.status, 400);
  assert.equal(foreign, 1, 'told once');
  const pending = fetch(`${base}/?code=alice&state=st17`, { headers: { cookie: `other=1; ${cookie}` } });
  const cb = await lb.callback;
  assert.equal(cb.params.get('code'), 'alice');
  cb.respond(true, 'ok');
  const done = await pending;
  assert.equal(done.status, 200);
  assert.match(done.headers.get('set-cookie') ?? '', /Max-Age=0/, 'the cookie is cleared');
  lb.close();
});
