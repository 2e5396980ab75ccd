import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, MAX_FRAME_BYTES, parseFrame, parseRequest, PROTOCOL_VERSION } from '../../lib/protocol.js';
import { isOidcError } from '../../lib/errors.js';

const options = { issuerUrl: 'https://i.example/dex', clientId: 'c', extraScopes: [], certificateAuthority: [], certificateAuthorityData: [], listenAddress: ['127.0.0.1:0'], skipOpenBrowser: false, authenticationTimeoutSec: 180, tokenCacheStorage: 'file', forceRefresh: false };

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

test('requests are validated; the env is cut to the allow-list', () => {
  const req = parseRequest({ op: 'token', v: PROTOCOL_VERSION, version: '0', options, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env: { DISPLAY: ':0', AWS_SECRET_ACCESS_KEY: 'x', HTTPS_PROXY: 5 } });
  assert.equal(req.op, 'token');
  if (req.op !== 'token') return;
  assert.deepEqual(req.env, { DISPLAY: ':0' });
  assert.equal(req.interactive, true);
  for (const bad of [null, [], { op: 'token' }, { op: 'nope', v: 1, version: 'x' }, { op: 'token', v: 1, version: 'x', options: { ...options, issuerUrl: 'http://plain' } }, { op: 'token', v: 1, version: 'x', options: { ...options, authenticationTimeoutSec: -1 } }]) {
    assert.throws(() => parseRequest(bad), (e) => isOidcError(e), JSON.stringify(bad));
  }
});

test('frames from the agent are validated', () => {
  assert.deepEqual(parseFrame({ t: 'token', token: 'x', expiresAt: 1 }), { t: 'token', token: 'x', expiresAt: 1 });
  assert.deepEqual(parseFrame({ t: 'error', code: 'E_AGENT', message: 'm', hint: 'h' }), { t: 'error', code: 'E_AGENT', message: 'm', hint: 'h' });
  for (const bad of [{ t: 'token', token: '', expiresAt: 1 }, { t: 'token', token: 'x' }, { t: 'what' }, 'str']) {
    assert.throws(() => parseFrame(bad), (e) => isOidcError(e, 'E_PROTOCOL'));
  }
});
