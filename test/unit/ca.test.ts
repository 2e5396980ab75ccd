/**
 * Issue 11, gap 1: CA files are read without blocking the agent's event loop: a FIFO, a device,
 * a directory or a huge file is refused at once with a clear message, and NODE_EXTRA_CA_CERTS too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCA } from '../rig/ca.js';
import { loadCustomCAs, MAX_CA_FILE_BYTES } from '../../lib/oidc/ca.js';
import { createHttp } from '../../lib/oidc/http.js';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isOidcError } from '../../lib/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'ko-ca-'));
const ca = await createTestCA(dir);
test.after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A FIFO with a writer that shows up after `ms`: code that blocks on it (the bug) finishes then,
 * late, instead of hanging the test run for ever.
 */
function fifo(name: string, ms = 3_000): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  const writer = spawn('/bin/sh', ['-c', `sleep ${ms / 1000}; exec 3>"$1"; sleep 1`, 'sh', path], { stdio: 'ignore' });
  writer.unref();
  return path;
}

/** Rejects with E_CONFIG matching `pattern`, promptly, while the event loop keeps turning. */
async function refusedPromptly(p: () => Promise<unknown>, pattern: RegExp) {
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  const started = Date.now();
  try {
    await assert.rejects(p(), (e) => {
      assert.ok(isOidcError(e, 'E_CONFIG'), `expected E_CONFIG, got ${(e as Error).message}`);
      assert.match((e as Error).message, pattern);
      assert.doesNotMatch((e as Error).message, /\n/);
      return true;
    });
  } finally {
    clearInterval(ticker);
  }
  const ms = Date.now() - started;
  assert.ok(ms < 1_000, `took ${ms} ms`);
  return { ms, ticks };
}

test('a good CA file is read', async () => {
  const pems = await loadCustomCAs([ca.caFile], []);
  assert.equal(pems.length, 1);
});

test('a FIFO as --certificate-authority is refused at once, without waiting for a writer', async () => {
  await refusedPromptly(() => loadCustomCAs([fifo('ca.fifo')], []), /--certificate-authority .*ca\.fifo is not a regular file \(a FIFO\)/);
});

test('/dev/zero, a directory and a huge file are refused', async () => {
  await refusedPromptly(() => loadCustomCAs(['/dev/zero'], []), /\/dev\/zero is not a regular file \(a character device\)/);
  await refusedPromptly(() => loadCustomCAs([dir], []), /is not a regular file \(a directory\)/);
  const huge = join(dir, 'huge.pem');
  writeFileSync(huge, Buffer.alloc(MAX_CA_FILE_BYTES + 1, 0x41));
  await refusedPromptly(() => loadCustomCAs([huge], []), /huge\.pem is larger than 4 MiB/);
});

test('a missing file is one clear line', async () => {
  await refusedPromptly(() => loadCustomCAs([join(dir, 'nope.pem')], []), /cannot read --certificate-authority .*nope\.pem: ENOENT/);
});

test('NODE_EXTRA_CA_CERTS: a FIFO is refused at the first request; a missing file is ignored as Node does', async () => {
  const http = createHttp({ cas: [ca.caPem], network: { NODE_EXTRA_CA_CERTS: fifo('extra.fifo') } });
  await refusedPromptly(() => http.fetch('https://127.0.0.1:9/', {}), /NODE_EXTRA_CA_CERTS \(.*extra\.fifo\) is not a regular file \(a FIFO\)/);
  await http.close();
  const missing = createHttp({ cas: [ca.caPem], network: { NODE_EXTRA_CA_CERTS: join(dir, 'none.pem') } });
  await assert.rejects(missing.fetch('https://127.0.0.1:9/', {}), (e) => isOidcError(e, 'E_ISSUER_UNREACHABLE'));
  await missing.close();
});

test("the caller's NODE_EXTRA_CA_CERTS alone is trusted (the agent starts without it in its own env)", async (t) => {
  const leaf = ca.issue();
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  assert.notEqual(process.env.NODE_EXTRA_CA_CERTS, ca.caFile);
  // Control: neither a custom CA nor the caller's extra CAs: the test CA is not trusted.
  const none = createHttp({ cas: [], network: {} });
  await assert.rejects(none.fetch(url, {}), (e) => isOidcError(e, 'E_TLS') || /certificate/i.test((e as Error).message));
  await none.close();
  const extra = createHttp({ cas: [], network: { NODE_EXTRA_CA_CERTS: ca.caFile } });
  const res = await extra.fetch(url, {});
  assert.equal(await res.text(), 'ok');
  await extra.close();
});
