import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, sessionKey } from '../../lib/store/key.js';

const base = { issuerUrl: 'https://dex.example.com/dex', clientId: 'kubernetes', scopes: ['openid', 'email', 'groups'], caDigest: '' };

test('canonical JSON sorts keys at every depth and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
});

test('the key does not depend on property or scope order, nor on duplicates', () => {
  const k = sessionKey(base);
  assert.match(k, /^[0-9a-f]{64}$/);
  assert.equal(sessionKey({ caDigest: '', scopes: ['groups', 'email', 'openid', 'email'], clientId: 'kubernetes', issuerUrl: base.issuerUrl }), k);
});

test('each input changes the key', () => {
  const k = sessionKey(base);
  assert.notEqual(sessionKey({ ...base, issuerUrl: 'https://dex.example.com/dex/' }), k);
  assert.notEqual(sessionKey({ ...base, clientId: 'other' }), k);
  assert.notEqual(sessionKey({ ...base, scopes: ['openid'] }), k);
  assert.notEqual(sessionKey({ ...base, caDigest: 'ab' }), k);
});
