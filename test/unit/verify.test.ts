import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, exportSPKI, type JWK } from 'jose';
import { verifyIdToken, IAT_SKEW_SEC, MAX_ID_TOKEN_LIFETIME_SEC } from '../../lib/oidc/verify.js';
import { isOidcError } from '../../lib/errors.js';

const issuer = 'https://dex.example.com/dex';
const clientId = 'kubernetes';
const now = new Date('2026-11-28T12:00:00Z');
const nowSec = Math.floor(now.getTime() / 1000);

const key = await generateKeyPair('RS256', { extractable: true });
const other = await generateKeyPair('RS256', { extractable: true });
const jwk: JWK = { ...(await exportJWK(key.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const keys = createLocalJWKSet({ keys: [jwk] });

function claims(over: Record<string, unknown> = {}) {
  return { iss: issuer, aud: clientId, sub: 'u1', email: 'a@example.com', iat: nowSec - 10, exp: nowSec + 3600, nonce: 'n1', ...over };
}
const sign = (c: Record<string, unknown>, k = key.privateKey, kid = 'k1') =>
  new SignJWT(c).setProtectedHeader({ alg: 'RS256', kid }).sign(k);

const opts = { issuer, audiences: [clientId], clientId, nonce: 'n1', now };

async function rejects(token: string, pattern: RegExp, o = opts) {
  await assert.rejects(verifyIdToken(token, keys, o), (e) => {
    assert.ok(isOidcError(e, 'E_ID_TOKEN_INVALID'), `expected E_ID_TOKEN_INVALID, got ${(e as Error).message}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('a good token verifies and yields exp and iat', async () => {
  const v = await verifyIdToken(await sign(claims()), keys, opts);
  assert.equal(v.expiresAt, nowSec + 3600);
  assert.equal(v.issuedAt, nowSec - 10);
  assert.equal(v.claims.email, 'a@example.com');
});

test('aud as an array containing the client id, with azp naming us, verifies', async () => {
  await verifyIdToken(await sign(claims({ aud: ['other', clientId], azp: clientId })), keys, opts);
  await verifyIdToken(await sign(claims({ aud: [clientId] })), keys, opts);
});

// OpenID Connect Core §3.1.3.7 (issue 11): a token for several audiences must name us as its authorized party.
test('several audiences without azp', async () => rejects(await sign(claims({ aud: ['other', clientId] })), /several audiences but no azp/));
test('several audiences with azp naming another client', async () => rejects(await sign(claims({ aud: ['other', clientId], azp: 'other' })), /issued to another client/));
test('one audience with azp naming another client', async () => rejects(await sign(claims({ azp: 'other' })), /issued to another client/));
test('Dex cross-client: aud is the server client, azp is us', async () => {
  await verifyIdToken(await sign(claims({ aud: ['server-x', clientId], azp: clientId })), keys, { ...opts, audiences: ['server-x'] });
});
test('nbf in the future', async () => rejects(await sign(claims({ nbf: nowSec + 600 })), /nbf/));
test('missing exp', async () => {
  const c = claims();
  delete (c as Record<string, unknown>).exp;
  await rejects(await sign(c), /exp/);
});
test('a valid signature from a key outside the JWKS, with no kid', async () => {
  const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
  await rejects(token, /signature|no key/);
});

test('wrong aud', async () => rejects(await sign(claims({ aud: 'someone-else' })), /audience/));
test('wrong iss', async () => rejects(await sign(claims({ iss: 'https://evil.example.com' })), /issuer/));
test('expired', async () => rejects(await sign(claims({ exp: nowSec - 60 })), /expired/));
test('wrong nonce on login', async () => rejects(await sign(claims({ nonce: 'other' })), /nonce/));
test('bad signature (another key under the same kid)', async () => rejects(await sign(claims(), other.privateKey), /signature/));
test('unknown kid', async () => rejects(await sign(claims(), key.privateKey, 'nope'), /no key/));

test('alg none', async () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  await rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, /algorithm|malformed/);
});

test('HS256 "signed" with the public key (algorithm confusion)', async () => {
  const pem = await exportSPKI(key.publicKey);
  const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(pem));
  await rejects(token, /algorithm/);
});

test('garbage is rejected, not thrown as something else', async () => rejects('not-a-jwt', /malformed/));

test('no nonce expected on refresh: a token without nonce verifies', async () => {
  const c = claims();
  delete (c as Record<string, unknown>).nonce;
  await verifyIdToken(await sign(c), keys, { issuer, audiences: [clientId], clientId, now });
});

test('iat in the future beyond the allowed skew is rejected (a broken clock or a forged token)', async () => {
  await rejects(await sign(claims({ iat: nowSec + 24 * 3600, exp: nowSec + 25 * 3600 })), /issued in the future/);
  await rejects(await sign(claims({ iat: nowSec + IAT_SKEW_SEC + 5 })), /issued in the future/);
});

test('iat slightly ahead (clock skew within the allowed skew) verifies', async () => {
  const v = await verifyIdToken(await sign(claims({ iat: nowSec + IAT_SKEW_SEC - 5 })), keys, opts);
  assert.equal(v.issuedAt, nowSec + IAT_SKEW_SEC - 5);
});

test('iat that is not a number is rejected', async () => rejects(await sign(claims({ iat: 'yesterday' })), /iat/));

test("Dex's cross-client scope audience:server:client_id:X: a token for X verifies, one only for the requesting client does not", async () => {
  const { audiencesFor } = await import('../../lib/oidc/provider.js');
  const audiences = audiencesFor({ clientId, extraScopes: ['email', 'audience:server:client_id:kube-apiserver'] });
  assert.deepEqual(audiences, ['kube-apiserver']);
  const o = { ...opts, audiences };
  await verifyIdToken(await sign(claims({ aud: ['kube-apiserver', clientId], azp: clientId })), keys, o);
  await verifyIdToken(await sign(claims({ aud: 'kube-apiserver' })), keys, o);
  await rejects(await sign(claims({ aud: clientId })), /audience/, o);
});

// Issue 17 item 4: exp 10^12 was served as fresh (kubectl cannot parse year 33658), 10^15 broke Date.
test('exp, iat and nbf outside a sane range are refused with one line', async () => {
  await rejects(await sign(claims({ exp: 1e12 })), /^the issuer's ID token was rejected: its exp \(1000000000000\) is not a usable time$/);
  await rejects(await sign(claims({ exp: 1e15 })), /its exp \(1000000000000000\) is not a usable time/);
  await rejects(await sign(claims({ exp: nowSec + 400 * 86_400 })), /^the issuer's ID token was rejected: its exp is 400 days ahead of this machine's clock \(at most 366 days is accepted\)$/);
  await rejects(await sign(claims({ exp: nowSec + MAX_ID_TOKEN_LIFETIME_SEC + 60 })), /days ahead/);
  await rejects(await sign(claims({ iat: -1e15 })), /its iat \(-1000000000000000\) is not a usable time/);
  await rejects(await sign(claims({ nbf: -5 })), /its nbf \(-5\) is not a usable time/);
  // 1e400 parses as Infinity: JSON.stringify cannot write it, so the payload is written by hand.
  const raw = JSON.stringify(claims({ exp: 0 })).replace('"exp":0', '"exp":1e400');
  const inf = await new CompactSign(new TextEncoder().encode(raw)).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(key.privateKey);
  await rejects(inf, /its exp \(Infinity\) is not a usable time/);
});

test('a long-lived token within the bound (30 days: past setTimeout\'s 24.8-day limit) verifies', async () => {
  const v = await verifyIdToken(await sign(claims({ exp: nowSec + 30 * 86_400 })), keys, opts);
  assert.equal(v.expiresAt, nowSec + 30 * 86_400);
});
