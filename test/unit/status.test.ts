import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderTable, toViews, when } from '../../lib/commands/status.js';

const NOW = Date.UTC(2026, 11, 5, 11, 23);

test('one time format for people: the RFC 3339 time and how far off it is', () => {
  assert.equal(when('2026-12-05T12:04:00Z', NOW), '2026-12-05T12:04:00Z (in 41m)');
  assert.equal(when('2026-12-05T13:30:00Z', NOW), '2026-12-05T13:30:00Z (in 2h7m)');
  assert.equal(when('2027-01-04T11:23:00Z', NOW), '2027-01-04T11:23:00Z (in 30d)');
  assert.equal(when('2026-12-05T11:22:30Z', NOW), '2026-12-05T11:22:30Z (30s ago)');
  assert.equal(when(null, NOW), '-');
});

test('the status table: RFC 3339 in json, the same time with its distance in the table', () => {
  const views = toViews({
    t: 'status',
    agent: { pid: 42, version: '1.0.0', protocol: 1 },
    notes: [],
    sessions: [{ key: 'f'.repeat(64), issuerUrl: 'https://dex.example', clientId: 'k8s', storage: 'file', cacheDir: '/c', email: 'a@example.com', groups: ['g1', 'g2'], expiresAt: NOW / 1000 + 41 * 60, nextRefreshAt: NOW / 1000 + 31 * 60, hasRefreshToken: true, busy: false, held: true }],
  });
  assert.equal(views[0]!.expiresAt, '2026-12-05T12:04:00Z');
  assert.equal(views[0]!.agentPid, 42);
  const [header, row] = renderTable(views, NOW).trimEnd().split('\n');
  assert.match(header!, /^ISSUER\s+CLIENT\s+NAME\s+USER\s+GROUPS\s+ID TOKEN EXPIRES\s+REFRESH TOKEN\s+NEXT REFRESH\s+STORAGE\s+AGENT$/);
  assert.match(row!, /^https:\/\/dex\.example\s+k8s\s+-\s+a@example\.com\s+g1,g2\s+2026-12-05T12:04:00Z \(in 41m\)\s+yes\s+2026-12-05T11:54:00Z \(in 31m\)\s+file \(\/c\)\s+42$/);
  assert.match(renderTable([], NOW), /^No sessions\./);
});
