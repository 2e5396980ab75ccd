/**
 * Issue 11, gap 7: a hostile or broken issuer cannot make the agent read an unbounded answer.
 * A local HTTPS server for the HTTP client itself, and the rig issuer for discovery, JWKS and token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createTestCA } from '../rig/ca.js';
import { startIssuer, PUBLIC_CLIENT_ID } from '../rig/issuer.js';
import { createHttp, MAX_RESPONSE_BYTES } from '../../lib/oidc/http.js';
import { createIssuerClient } from '../../lib/oidc/issuer.js';
import { isOidcError } from '../../lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ko-http-'));
const ca = await createTestCA(dir);
test.after(() => rmSync(dir, { recursive: true, force: true }));

const tooBig = (e: unknown) => {
  assert.ok(isOidcError(e, 'E_ISSUER_RESPONSE'), `expected E_ISSUER_RESPONSE, got ${(e as Error).message}`);
  assert.match((e as Error).message, /larger than 1 MiB/);
  assert.doesNotMatch((e as Error).message, /\n/);
  return true;
};

test('the HTTP client refuses answers over the cap: by Content-Length, chunked, and endless', async (t) => {
  const leaf = ca.issue();
  const big = Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x20);
  let endlessSent = 0;
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    switch (req.url) {
      case '/small':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      case '/exactly-the-cap':
        res.writeHead(200, { 'content-length': String(MAX_RESPONSE_BYTES) }).end(Buffer.alloc(MAX_RESPONSE_BYTES, 0x20));
        return;
      case '/length':
        res.writeHead(200, { 'content-length': String(big.length) }).end(big);
        return;
      case '/chunked':
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < big.length; i += 64 * 1024) res.write(big.subarray(i, i + 64 * 1024));
        res.end();
        return;
      case '/endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) endlessSent += chunk.length;
          if (!res.destroyed) res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
        return;
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const http = createHttp({ cas: [ca.caPem], network: {} });
  t.after(() => http.close());
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  assert.deepEqual(await (await http.fetch(`${base}/small`, {})).json(), { ok: true });
  assert.equal((await (await http.fetch(`${base}/exactly-the-cap`, {})).arrayBuffer()).byteLength, MAX_RESPONSE_BYTES);
  await assert.rejects(http.fetch(`${base}/length`, {}), tooBig, 'refused from its Content-Length, before the body');
  await assert.rejects(async () => (await http.fetch(`${base}/chunked`, {})).text(), tooBig);
  await assert.rejects(async () => (await http.fetch(`${base}/endless`, {})).json(), tooBig);
  assert.ok(endlessSent < 16 * MAX_RESPONSE_BYTES, `stopped reading (the server got ${endlessSent} bytes out)`);
});

test('huge discovery, JWKS and token answers from the issuer are clear errors', async (t) => {
  const issuer = await startIssuer({ ca });
  t.after(() => issuer.close());
  const client = createIssuerClient(
    { issuerUrl: issuer.url, clientId: PUBLIC_CLIENT_ID, extraScopes: [], caFiles: [], caData: [], offlineAccess: true, insecureSkipTlsVerify: false },
    { cas: [ca.caPem], now: Date.now },
  );
  t.after(() => client.close());
  const call = () => ({ network: {}, signal: AbortSignal.timeout(20_000) });
  const huge = `{"x":"${'a'.repeat(MAX_RESPONSE_BYTES)}"}`;

  issuer.setFault('discovery', { body: huge, times: 1 });
  await assert.rejects(client.capabilities(call()), tooBig);

  issuer.setFault('jwks', { body: huge, times: 1 });
  await assert.rejects(client.verify(await issuer.mintIdToken(), {}, call()), tooBig);

  issuer.setFault('token', { body: huge, times: 1 });
  await assert.rejects(client.refreshGrant('some-refresh-token', call()), tooBig);

  // and the client is fine afterwards
  const v = await client.verify(await issuer.mintIdToken(), {}, call());
  assert.equal(typeof v.expiresAt, 'number');
});
