import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact, createLogger } from '../../lib/log.js';

test('redact removes JWTs, secret URL parameters and JSON token fields', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXZhbHVl';
  const out = redact(`token ${jwt} at https://x/cb?code=SECRET1&state=ok and refresh_token=SECRET2 {"refreshToken":"SECRET3","idToken":"SECRET4"}`);
  for (const s of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', jwt]) assert.ok(!out.includes(s), `${s} leaked: ${out}`);
  assert.match(out, /state=ok/);
});

test('the logger prints stacks only when debugging', () => {
  const lines: string[] = [];
  const err = Object.assign(new Error('boom'), { code: 'E_X' });
  createLogger((l) => lines.push(l), { debug: false }).error(err, 'ctx');
  createLogger((l) => lines.push(l), { debug: true }).error(err);
  assert.equal(lines[0], 'ctx: E_X: boom\n');
  assert.match(lines[1]!, /at /);
});
