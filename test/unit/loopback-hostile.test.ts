/**
 * Issue 11, hostile input at the loopback login callback: anyone on this machine, and any web page,
 * can send it requests. None but the login's own callback is accepted, none crashes the listener,
 * and after all of them the right callback still works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { startLoopback, type Loopback } from '../../lib/login/loopback.js';

const STATE = 'the-right-state-0123456789';

/**
 * Raw HTTP, so that nothing between the test and the listener cleans the request up. Waits for the
 * listener to answer and close; with `giveUpMs`, the client hangs up first (a request cut short).
 * No deadline otherwise: on a loaded machine (2 cores, the suite two files at a time, Node 22 slower
 * than 24) a 5 s one expired before the listener's 400 arrived, a failure of the clock, not of the
 * product. A listener that never answers fails the test by its timeout.
 */
function raw(port: number, text: string | Buffer, giveUpMs?: number): Promise<{ status: number; body: string } | { status: 0; body: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : 0, body: got.slice(got.indexOf('\r\n\r\n') + 4) });
    };
    const timer = giveUpMs === undefined ? undefined : setTimeout(() => s.destroy(), giveUpMs);
    s.on('data', (d) => (got += d));
    s.on('error', () => {});
    s.on('close', done);
    s.write(text);
  });
}

function post(port: number, path: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Nothing accepted yet: the callback promise is still pending. */
async function assertPending(lb: Loopback) {
  const r = await Promise.race([lb.callback.then(() => 'accepted', () => 'failed'), new Promise((res) => setTimeout(() => res('pending'), 50))]);
  assert.equal(r, 'pending', 'no hostile request settled the login');
}

test('hostile requests to the callback: none is accepted, the listener keeps working, then the right callback is', { timeout: 180_000 }, async () => {
  const lb = await startLoopback(['127.0.0.1:0'], STATE);
  const base = `http://127.0.0.1:${lb.port}`;
  try {
    // A wrong state, with an issuer-style error carrying HTML: refused, and never echoed back as markup.
    const html = '<script>alert(1)</script><img src=x onerror=alert(2)>';
    const wrong = await fetch(`${base}/?state=nope&error=${encodeURIComponent(html)}&error_description=${encodeURIComponent(html)}`);
    assert.equal(wrong.status, 400);
    const text = await wrong.text();
    assert.doesNotMatch(text, /<script|<img/i, 'no markup from the request in the page');
    assert.equal(wrong.headers.get('content-type'), 'text/html; charset=utf-8');

    // Other paths and methods, with no state, a wrong one, or the right one in the wrong place.
    for (const path of ['/favicon.ico', '/login', '/login/guess', '/..%2f..%2fetc/passwd', `/?code=x`, `/?code=x&state=`, `/?code=x&state=${STATE}x`, `/?code=x&state[]=${STATE}`, '/%zz?state=%zz']) {
      assert.equal((await fetch(`${base}${path}`)).status, 400, path);
    }
    assert.equal(await post(lb.port, '/', `code=x&state=${STATE}`), 400, 'a POST, even with the right state in the body');
    assert.equal(await post(lb.port, `/?code=x&state=${STATE}`, ''), 400, 'a POST with the right state in the query');
    for (const method of ['PUT', 'DELETE', 'OPTIONS', 'HEAD']) {
      const r = await fetch(`${base}/?code=x&state=${STATE}`, { method });
      assert.equal(r.status, 400, method);
    }
    await assertPending(lb);

    // 1 MB: in the request line (over Node's header limit), and as a body.
    const bigLine = await raw(lb.port, `GET /?state=${STATE}&code=${'A'.repeat(1024 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok(bigLine.status === 431 || bigLine.status === 400 || bigLine.status === 0, `a 1 MB request line: ${bigLine.status}`);
    assert.equal(await post(lb.port, '/', Buffer.alloc(1024 * 1024, 'a')), 400, 'a 1 MB body');
    // Garbage that is not HTTP at all, and a request cut short.
    const junk = await raw(lb.port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]));
    assert.ok(junk.status === 400 || junk.status === 0);
    await raw(lb.port, `GET /?state=${STATE}&code=x HTTP/1.1\r\nHost`, 200);
    await assertPending(lb);

    // Many junk requests at once.
    const statuses = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        i % 3 === 0
          ? fetch(`${base}/?code=${i}&state=guess${i}`).then((r) => r.status, () => 0)
          : i % 3 === 1
            ? post(lb.port, `/?state=${STATE}`, `code=${i}`)
            : raw(lb.port, `GET /${'x'.repeat(i)} HTTP/1.1\r\nHost: x\r\n\r\n`).then((r) => r.status),
      ),
    );
    assert.ok(statuses.every((s) => s === 400), `every junk request refused: ${[...new Set(statuses)].join(',')}`);
    await assertPending(lb);

    // The right callback, after all that: accepted once, with an error carrying HTML shown escaped.
    const pending = fetch(`${base}/?state=${STATE}&error=${encodeURIComponent(html)}`);
    const cb = await lb.callback;
    assert.equal(cb.params.get('error'), html, 'the handler sees the parameter as sent');
    cb.respond(false, `the issuer refused the login: ${cb.params.get('error')}`); // what authcode.ts answers
    const page = await pending;
    assert.equal(page.status, 400);
    const shown = await page.text();
    assert.doesNotMatch(shown, /<script|<img/i, 'the page escapes the error');
    assert.match(shown, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);

    // A second callback after that one, even with the right state: refused.
    assert.equal((await fetch(`${base}/?code=again&state=${STATE}`)).status, 400);
  } finally {
    lb.close();
  }
});
