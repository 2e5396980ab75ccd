import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameReader, parseFrame } from '../../lib/protocol/frames.js';
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js';
import { MAX_FRAME_BYTES } from '../../lib/protocol/wire.js';
import { parseRequest } from '../../lib/agent/request.js';
import { VERSION } from '../../lib/version.js';
import { isOidcError } from '../../lib/errors.js';

const provider = { issuerUrl: 'https://i.example/dex', clientId: 'c', extraScopes: [], caFiles: [], caData: [] };
const ui = { grantType: 'auto', listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 180, pkceMethod: 'auto', authRequestExtraParams: {}, keyboardRedirectUrl: 'urn:ietf:wg:oauth:2.0:oob' };
const cache = { storage: 'file' };
const v = { v: PROTOCOL_VERSION, version: VERSION };

test('frames split across chunks and several per chunk', () => {
  const r = new FrameReader();
  assert.deepEqual(r.push('{"a":'), []);
  assert.deepEqual(r.push('1}\n{"b":2}\n\n{"c"'), [{ a: 1 }, { b: 2 }]);
  assert.deepEqual(r.push(':3}\n'), [{ c: 3 }]);
});

test('garbage and oversized frames are E_PROTOCOL', () => {
  assert.throws(() => new FrameReader().push('nope\n'), (e) => isOidcError(e, 'E_PROTOCOL'));
  assert.throws(() => new FrameReader().push('x'.repeat(MAX_FRAME_BYTES + 1)), (e) => isOidcError(e, 'E_PROTOCOL'));
});

test('requests are validated; the env is cut to the allow-list (an older login\'s token request too)', () => {
  const req = parseRequest({ op: 'token', ...v, provider, ui, cache, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env: { DISPLAY: ':0', AWS_SECRET_ACCESS_KEY: 'x', HTTPS_PROXY: 5 } });
  assert.equal(req.op, 'exec');
  if (req.op !== 'exec') return;
  assert.deepEqual(req.env, { DISPLAY: ':0' });
  assert.equal(req.interactive, true);
  assert.equal(req.flags.provider.issuerUrl, provider.issuerUrl);
  const logout = parseRequest({ op: 'logout', ...v, provider, ui, cache, env: { NO_PROXY: 'x', HOME: '/h' } });
  assert.deepEqual(logout.op === 'logout' && [logout.cache, logout.env], [{ storage: 'file' }, { NO_PROXY: 'x' }]);
  for (const bad of [null, [], { op: 'token' }, { op: 'nope', ...v }, { op: 'token', ...v, provider: { ...provider, issuerUrl: 'http://plain' }, ui, cache }, { op: 'token', ...v, provider, ui: { ...ui, authenticationTimeoutSec: -1 }, cache }, { op: 'token', ...v, provider, ui, cache: { storage: 'file', dir: 'relative' } }]) {
    assert.throws(() => parseRequest(bad), (e) => isOidcError(e), JSON.stringify(bad));
  }
});

test('a client of another version gets E_VERSION_MISMATCH before its body is read, but may ask the agent to stop', () => {
  assert.throws(() => parseRequest({ op: 'token', v: 1, version: '0.0.1', options: {} }), (e) => isOidcError(e, 'E_VERSION_MISMATCH'));
  assert.equal(parseRequest({ op: 'stop', v: 1, version: '0.0.1' }).op, 'stop');
});

test('frames from the agent are validated', () => {
  assert.deepEqual(parseFrame({ t: 'token', token: 'x', expiresAt: 1 }), { t: 'token', token: 'x', expiresAt: 1 });
  assert.deepEqual(parseFrame({ t: 'error', code: 'E_AGENT', message: 'm', hint: 'h' }), { t: 'error', code: 'E_AGENT', message: 'm', hint: 'h' });
  assert.deepEqual(parseFrame({ t: 'pong', agent: { pid: 5, version: '1' } }), { t: 'pong', agent: { pid: 5, version: '1' } });
  for (const bad of [{ t: 'token', token: '', expiresAt: 1 }, { t: 'token', token: 'x' }, { t: 'what' }, 'str', { t: 'ok' }, { t: 'pong' }, { t: 'status', agent: { pid: 1, version: 'x' }, sessions: [{}] }, { t: 'error', code: 'E_MADE_UP', message: 'm' }]) {
    assert.throws(() => parseFrame(bad), (e) => isOidcError(e, 'E_PROTOCOL'));
  }
});

test('an exec request (get-token\'s command line) is validated and parsed with the cluster\'s extension, the network allow-list and the flag-related vars', () => {
  const cluster = { config: { 'oidc-client-id': 'from-cluster', 'use-cluster-certificate-authority': true }, caData: 'Y2E=', junk: 1 };
  const env = { HOME: '/home/a', KUBECTL_OIDC_CLIENT_SECRET: 's', HTTPS_PROXY: 'http://p:3128', AWS_SECRET_ACCESS_KEY: 'x', KUBECTL_OIDC_PASSWORD: 5 };
  const req = parseRequest({ op: 'exec', ...v, argv: ['--oidc-issuer-url=https://i.example', '--token-cache-dir=~/c'], cwd: '/home/a', cluster, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env });
  assert.equal(req.op, 'exec');
  if (req.op !== 'exec') return;
  assert.equal(req.flags.provider.clientId, 'from-cluster');
  assert.deepEqual(req.flags.provider.caData, ['Y2E=']);
  assert.equal(req.flags.provider.clientSecret, 's');
  assert.equal(req.flags.ui.password, undefined);
  assert.equal(req.flags.cache.dir, '/home/a/c');
  assert.deepEqual(req.env, { HTTPS_PROXY: 'http://p:3128' }, 'only the network settings go on to the session');
  assert.equal(req.interactive, true);
  for (const bad of [{ argv: 'x', cwd: '/' }, { argv: [1], cwd: '/' }, { argv: [], cwd: 'relative' }, { argv: Array(201).fill('x'), cwd: '/' }]) {
    assert.throws(() => parseRequest({ op: 'exec', ...v, ...bad }), (e) => isOidcError(e, 'E_PROTOCOL'), JSON.stringify(bad).slice(0, 80));
  }
  // The argument count bounds a frame's work on the socket; in-process (where an oversized request goes) nothing caps it.
  const long = { op: 'exec', ...v, argv: ['--oidc-issuer-url=https://i.example', '--oidc-client-id=k', ...Array(200).fill('--force-refresh')], cwd: '/', cluster: {}, env: {} };
  assert.throws(() => parseRequest(long), (e) => isOidcError(e, 'E_PROTOCOL'));
  assert.equal(parseRequest(long, { inProcess: true }).op, 'exec');
});

test('the version is checked in one place: the agent\'s request parsing', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
  const files = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  const callers = files('lib').filter((f) => /\bservesClient\(/.test(readFileSync(join(root, f), 'utf8').replace(/export function servesClient\(/, '')));
  assert.deepEqual(callers, ['lib/agent/request.ts']);
});
