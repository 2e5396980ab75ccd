/**
 * Issue 11: key rotation and forged kids, against createKeyCache with a fake issuer that counts its
 * key-set fetches and an injected clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { createKeyCache } from '../../lib/oidc/keys.js';
import { verifyIdToken } from '../../lib/oidc/verify.js';
import { isOidcError } from '../../lib/errors.js';
import type { Http } from '../../lib/oidc/http.js';

const issuer = 'https://dex.example.com/dex';
const clientId = 'kubernetes';

async function makeKey(kid: string) {
  const pair = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, priv: pair.privateKey, jwk };
}

function world() {
  let nowMs = Date.UTC(2026, 10, 28, 12);
  const served: JWK[] = [];
  const stats = { fetches: 0 };
  const http: Http = {
    async fetch() {
      stats.fetches++;
      return new Response(JSON.stringify({ keys: served }), { headers: { 'content-type': 'application/json' } });
    },
    async close() {},
  };
  const cache = createKeyCache('https://dex.example.com/dex/keys', { now: () => nowMs });
  const verify = (token: string) =>
    verifyIdToken(token, cache.resolver(http, AbortSignal.timeout(5_000)), { issuer, audiences: [clientId], clientId, now: new Date(nowMs) });
  const sign = (k: Awaited<ReturnType<typeof makeKey>>, kid = k.kid) => {
    const s = Math.floor(nowMs / 1000);
    return new SignJWT({ iss: issuer, aud: clientId, sub: 'u1', iat: s, exp: s + 600 }).setProtectedHeader({ alg: 'RS256', kid }).sign(k.priv);
  };
  return { served, stats, verify, sign, tick: (ms: number) => (nowMs += ms) };
}

test('rotation right after a routine key-set fetch: the new kid verifies after exactly one refetch', async () => {
  const w = world();
  const k1 = await makeKey('k1');
  const k2 = await makeKey('k2');
  w.served.push(k1.jwk);
  await w.verify(await w.sign(k1));
  assert.equal(w.stats.fetches, 1);
  w.tick(1_000); // well inside the 30 s cooldown
  w.served.splice(0, 1, k2.jwk);
  const v = await w.verify(await w.sign(k2));
  assert.equal(v.claims.sub, 'u1');
  assert.equal(w.stats.fetches, 2, 'one refetch');
  await w.verify(await w.sign(k2));
  assert.equal(w.stats.fetches, 2, 'and none after it');
});

test('a stream of tokens with unknown kids: at most one refetch per 30 s, each one a clear rejection', async () => {
  const w = world();
  const k1 = await makeKey('k1');
  const forger = await makeKey('x');
  w.served.push(k1.jwk);
  await w.verify(await w.sign(k1));
  for (let i = 0; i < 200; i++) {
    await assert.rejects(w.verify(await w.sign(forger, `forged-${i}`)), (e) => isOidcError(e, 'E_ID_TOKEN_INVALID') && /no key in the issuer's JWKS matches it/.test((e as Error).message));
    w.tick(100); // 200 tokens over 20 s
  }
  assert.equal(w.stats.fetches, 2, `${w.stats.fetches} key-set fetches for 200 forged kids in 20 s`);
  w.tick(30_000);
  await assert.rejects(w.verify(await w.sign(forger, 'forged-late')));
  assert.equal(w.stats.fetches, 3, 'one more after the cooldown');
  await w.verify(await w.sign(k1));
  assert.equal(w.stats.fetches, 3, 'the known key still verifies without a fetch');
});
