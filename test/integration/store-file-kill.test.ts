/**
 * The file store against a writer process killed with SIGKILL mid-write (from test/unit/store-file.test.ts:
 * it spawns Node five times).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore } from '../../lib/store/file.js';

const key = 'f'.repeat(64);

test('a writer killed with SIGKILL mid-write never leaves a half file: the next reader gets whole tokens', async () => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'ko-kill-'));
  const storeModule = new URL('../../lib/store/file.js', import.meta.url).href;
  const writer = `
    const { createFileStore } = await import(${JSON.stringify(storeModule)});
    const s = createFileStore(${JSON.stringify(dir)});
    const big = 'x'.repeat(200_000);
    for (let i = 0; ; i++) {
      await s.save(${JSON.stringify(key)}, { idToken: 'a.' + big + '.' + i, refreshToken: 'r' + i, issuedAt: i, expiresAt: i + 1 });
      if (i === 0) process.stdout.write('saved\\n');
    }`;
  for (let round = 0; round < 5; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 20 + round * 15));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const got = await createFileStore(dir).load(key);
    assert.ok(got, 'whole tokens after the kill');
    assert.equal(got.idToken.length > 200_000, true);
    assert.equal(got.refreshToken, `r${got.issuedAt}`, 'id token and refresh token from the same write');
  }
});
