import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findKubeloginSession } from '../../lib/store/kubelogin.js';

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
const ISS = 'https://dex.example.com/dex';

test('finds the session for this issuer and client by the ID token, the newest one, ignoring everything else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ko-kubelogin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const put = (name: string, doc: unknown) => writeFileSync(join(dir, name), typeof doc === 'string' ? doc : JSON.stringify(doc));
  put('a', { id_token: jwt({ iss: ISS, aud: 'kubernetes', iat: 100 }), refresh_token: 'old' });
  put('b', { id_token: jwt({ iss: ISS, aud: ['other', 'kubernetes'], iat: 200 }), refresh_token: 'new' });
  put('c', { id_token: jwt({ iss: ISS, aud: 'another-client', iat: 300 }), refresh_token: 'wrong-client' });
  put('d', { id_token: jwt({ iss: `${ISS}/`, aud: 'kubernetes', iat: 400 }), refresh_token: 'wrong-issuer' });
  put('e', { id_token: jwt({ iss: ISS, aud: 'kubernetes', iat: 500 }) });
  put('f', 'not json');
  put('b.lock', '');
  put('big', 'x'.repeat(100 * 1024));
  try {
    execFileSync('mkfifo', [join(dir, 'fifo')]);
  } catch {}
  const found = await findKubeloginSession([dir, join(dir, 'missing')], ISS, 'kubernetes');
  assert.deepEqual(found && { file: found.file, refreshToken: found.refreshToken }, { file: join(dir, 'b'), refreshToken: 'new' });
  assert.equal(await findKubeloginSession([dir], ISS, 'nobody'), undefined);
});
