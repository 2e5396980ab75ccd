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

test('a session without username, extra params or session name keeps the key today\'s token files and keyring items have', () => {
  // Computed with lib/store/key.ts as it was before --username, extra params and --session-name joined the key.
  const old = { issuerUrl: 'https://dex.example.com/dex', clientId: 'kubernetes', scopes: ['openid', 'offline_access', 'email', 'groups'], caDigest: '' };
  assert.equal(sessionKey(old), '2e5b13a28b0368e5d527eb723b78e6245dcfd6dba9893346a111162d408ca212');
  assert.equal(sessionKey({ ...old, username: undefined, extraParams: {}, sessionName: undefined }), '2e5b13a28b0368e5d527eb723b78e6245dcfd6dba9893346a111162d408ca212');
  assert.equal(
    sessionKey({ issuerUrl: 'https://dex.example.com/dex', clientId: 'kubernetes', scopes: ['openid', 'email'], caDigest: 'ab12', insecure: true, extraParams: {} }),
    '1885eb1e12c2ff77274eebae2834f5b9adb2da0f9147ae0024a350a633837282',
  );
});

test('the account is part of the key: username, each extra param key and value, the session name', () => {
  const k = sessionKey(base);
  const keys = [
    k,
    sessionKey({ ...base, username: 'alice' }),
    sessionKey({ ...base, username: 'bob' }),
    sessionKey({ ...base, extraParams: { login_hint: 'bob@example.com' } }),
    sessionKey({ ...base, extraParams: { login_hint: 'carol@example.com' } }),
    sessionKey({ ...base, extraParams: { connector_id: 'bob@example.com' } }),
    sessionKey({ ...base, extraParams: { login_hint: 'bob@example.com', connector_id: 'ldap' } }),
    sessionKey({ ...base, sessionName: 'work' }),
    sessionKey({ ...base, sessionName: 'home' }),
    sessionKey({ ...base, username: 'work' }),
  ];
  assert.equal(new Set(keys).size, keys.length, 'all different');
  // Canonical: the order the params were given in does not matter.
  assert.equal(
    sessionKey({ ...base, extraParams: { login_hint: 'bob@example.com', connector_id: 'ldap' } }),
    sessionKey({ ...base, extraParams: { connector_id: 'ldap', login_hint: 'bob@example.com' } }),
  );
});
