import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExecInfo, renderExecCredential, rfc3339, V1, V1BETA1 } from '../../lib/exec-credential.js';
import { isOidcError } from '../../lib/errors.js';

test('no KUBERNETES_EXEC_INFO: v1beta1, interactivity from the terminal', () => {
  assert.deepEqual(parseExecInfo(undefined, false), { apiVersion: V1BETA1, interactive: false });
  assert.deepEqual(parseExecInfo('', true), { apiVersion: V1BETA1, interactive: true });
});

test('v1 with interactive and a trailing newline (as kubectl sends it)', () => {
  const info = parseExecInfo(`${JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: true } })}\n`);
  assert.equal(info.apiVersion, V1);
  assert.equal(info.interactive, true);
});

test('provideClusterInfo: the exec extension config and the CA data are read (the server is not needed)', () => {
  const cluster = { server: 'https://k', 'certificate-authority-data': 'Q0E=', config: { issuer: 'x' } };
  const info = parseExecInfo(JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: false, cluster } }));
  assert.deepEqual(info, { apiVersion: V1, interactive: false, clusterConfig: { issuer: 'x' }, clusterCaData: 'Q0E=' });
});

for (const [name, raw] of [
  ['not JSON', '{nope'],
  ['an array', '[]'],
  ['unknown apiVersion', JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1alpha1', kind: 'ExecCredential' })],
  ['wrong kind', JSON.stringify({ apiVersion: V1, kind: 'Pod' })],
  ['interactive not boolean', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', spec: { interactive: 'yes' } })],
  ['spec not an object', JSON.stringify({ apiVersion: V1, kind: 'ExecCredential', spec: 3 })],
] as const) {
  test(`malformed KUBERNETES_EXEC_INFO (${name}) is E_EXEC_INFO`, () => {
    assert.throws(() => parseExecInfo(raw), (e) => isOidcError(e, 'E_EXEC_INFO'));
  });
}

test('rendered ExecCredential: the asked apiVersion, the token, and an expiry just before exp', () => {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  for (const v of [V1, V1BETA1] as const) {
    const out = renderExecCredential(v, 'tok.en.x', exp);
    assert.ok(out.endsWith('\n'));
    const doc = JSON.parse(out);
    assert.equal(doc.apiVersion, v);
    assert.equal(doc.kind, 'ExecCredential');
    assert.equal(doc.status.token, 'tok.en.x');
    const ts = Date.parse(doc.status.expirationTimestamp) / 1000;
    assert.ok(ts < exp && ts >= exp - 10, `expirationTimestamp ${doc.status.expirationTimestamp} should be within 10 s before exp`);
    assert.match(doc.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
});

test('a short-lived token is not reported as expired already', () => {
  const exp = Math.floor(Date.now() / 1000) + 20;
  const ts = Date.parse(JSON.parse(renderExecCredential(V1, 't', exp)).status.expirationTimestamp) / 1000;
  assert.ok(ts > Date.now() / 1000, 'still in the future');
});

test('rfc3339 is toISOString to the second, without the time zone look-up', () => {
  // Both sides of a leap day, the epoch, single-digit fields, the end of a year, and a random spread.
  const cases = [0, Date.UTC(2024, 1, 29, 23, 59, 59), Date.UTC(2024, 2, 1, 0, 0, 0), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2038, 0, 19, 3, 14, 8)];
  for (let i = 0; i < 200; i++) cases.push(Math.floor(Math.random() * 4102444800000));
  for (const ms of cases) assert.equal(rfc3339(ms), new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'), `at ${ms}`);
});
