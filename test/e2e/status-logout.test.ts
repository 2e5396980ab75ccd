/**
 * Issue 8 end to end: `kubectl oidc status` (table and JSON, with and without an agent, which it
 * never starts) and `kubectl oidc logout` revoking at the issuer (counted there), then `--all`.
 * Real kubectl, Chromium, the HTTPS issuer and the test API server; one world, steps in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld, requireTools, cacheFiles, type World } from './world.js';
import { PUBLIC_CLIENT_ID } from '../rig/issuer.js';

const skip = requireTools();
const sock = (w: World) => join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.sock');

test('status and logout', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());

  await t.test('status with no session and no agent: says so, starts no agent', async () => {
    const r = await w.plugin(['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /No sessions/);
    assert.match(r.stderr, /no agent is running/);
    const j = await w.plugin(['status', '-o', 'json']);
    assert.deepEqual(JSON.parse(j.stdout), { sessions: [] });
    assert.ok(!existsSync(sock(w)), 'no agent was started for status');
  });

  await t.test('login says who: subject, email, groups, expiry', async () => {
    const r = await w.plugin(['login', ...w.tokenArgs]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /alice@example\.com/);
    assert.match(r.stderr, /subject: alice/);
    assert.match(r.stderr, /groups: developers, kubectl-oidc:users/);
    assert.match(r.stderr, /valid until \d{4}-/);
  });

  await t.test('status as a table: issuer, client, user, groups, expiry, refresh token, next refresh, storage, pid; no token', async () => {
    const r = await w.plugin(['status']);
    assert.equal(r.code, 0, r.stderr);
    const [header, row, extra] = r.stdout.trimEnd().split('\n');
    assert.equal(extra, undefined, r.stdout);
    assert.match(header!, /^ISSUER\s+CLIENT\s+NAME\s+USER\s+GROUPS\s+ID TOKEN EXPIRES\s+REFRESH TOKEN\s+NEXT REFRESH\s+STORAGE\s+AGENT$/);
    assert.ok(row!.includes(w.issuer.url) && row!.includes(PUBLIC_CLIENT_ID), row);
    assert.match(row!, /alice@example\.com\s+developers,kubectl-oidc:users\s+\d{4}-\S+Z \(in \S+\)\s+yes\s+\d{4}-\S+Z \(in \S+\)\s+file \(/);
    assert.match(row!, /\s\d+$/, 'the agent pid');
    assert.doesNotMatch(r.stdout + r.stderr, /eyJ/);
  });

  await t.test('agent status: the agent, then the sessions it holds in the same table and time format as status', async () => {
    const a = await w.plugin(['agent', 'status']);
    const s = await w.plugin(['status']);
    assert.equal(a.code, 0, a.stderr);
    const [agentLine, logLine, ...table] = a.stdout.split('\n');
    assert.match(agentLine!, /^agent: running, pid \d+, version \S+, socket \//);
    assert.match(logLine!, /^log: \//);
    // The two ran a moment apart: the distance ("in 41m") may have ticked, the times may not.
    const sameTime = (x: string) => x.replace(/ \((in |)\w+( ago|)\)/g, ' (…)').replace(/[ ]+/g, ' ');
    assert.equal(sameTime(table.join('\n')), sameTime(s.stdout));
    assert.match(s.stdout, / \(in \w+\)/);
    assert.doesNotMatch(a.stdout, /eyJ/);
  });

  await t.test('status -o json: the same fields, the agent pid, no token', async () => {
    const r = await w.plugin(['status', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(doc), ['sessions']);
    assert.equal(doc.sessions.length, 1);
    const s = doc.sessions[0];
    assert.equal(s.issuer, w.issuer.url);
    assert.equal(s.client, PUBLIC_CLIENT_ID);
    assert.equal(s.user, 'alice@example.com');
    assert.equal(s.subject, 'alice');
    assert.deepEqual(s.groups, ['developers', 'kubectl-oidc:users']);
    assert.ok(Date.parse(s.expiresAt) > Date.now());
    assert.equal(s.hasRefreshToken, true);
    assert.ok(Date.parse(s.nextRefreshAt) > Date.now() && Date.parse(s.nextRefreshAt) < Date.parse(s.expiresAt));
    assert.equal(s.storage, 'file');
    assert.equal(typeof s.agentPid, 'number');
    assert.doesNotMatch(r.stdout, /eyJ/);
  });

  await t.test('with the agent stopped, status reads the token files and starts none', async () => {
    await w.stopAgent();
    assert.ok(!existsSync(sock(w)));
    const r = await w.plugin(['status', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const [s] = JSON.parse(r.stdout).sessions;
    assert.equal(s.user, 'alice@example.com');
    assert.equal(s.issuer, w.issuer.url);
    assert.equal(s.client, PUBLIC_CLIENT_ID);
    assert.equal(s.agentPid, null);
    assert.equal(s.nextRefreshAt, null);
    assert.match(r.stderr, /keyring cannot be listed/);
    assert.ok(!existsSync(sock(w)), 'still no agent');
  });

  await t.test('logout (no agent running) revokes the refresh token at the issuer and removes the file', async () => {
    const before = w.issuer.stats.revocations.length;
    const r = await w.plugin(['logout', ...w.tokenArgs]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /revoked the refresh token at/);
    const revs = w.issuer.stats.revocations.slice(before);
    assert.equal(revs.length, 1);
    assert.equal(revs[0]!.status, 200);
    assert.equal(revs[0]!.clientId, PUBLIC_CLIENT_ID, 'a public client sends its client_id');
    assert.equal(revs[0]!.tokenTypeHint, 'refresh_token');
    assert.equal(cacheFiles(w).length, 0);
    assert.ok(!existsSync(sock(w)), 'logout started no agent');
  });

  await t.test('the next kubectl call needs a new login', async () => {
    const launches = await w.launches();
    const r = await w.kubectl(['auth', 'whoami']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await w.launches()) - launches, 1);
  });

  await t.test('a failing revocation endpoint: logout says so and still forgets', async () => {
    w.issuer.setFault('revocation', { status: 503, times: 1 });
    const r = await w.plugin(['logout', ...w.tokenArgs]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the refresh token was not revoked at the issuer: .*503/);
    assert.match(r.stderr, /logged out \(removed from agent memory/);
    assert.equal(cacheFiles(w).length, 0);
  });

  await t.test('logout --all forgets every session the agent and the files know, revoking each', async () => {
    const r1 = await w.kubectl(['auth', 'whoami']);
    assert.equal(r1.code, 0, r1.stderr);
    // A second session (another scope set), then the agent forgets the first one's entry by restarting.
    const other = [...w.tokenArgs, '--oidc-extra-scope=profile'];
    assert.equal((await w.plugin(['login', ...other])).code, 0);
    await w.stopAgent();
    assert.equal((await w.plugin(['login', ...other])).code, 0, 'the agent holds only this one now');
    assert.equal(cacheFiles(w).length, 2);
    const before = w.issuer.stats.revocations.length;
    const launches = await w.launches();
    const r = await w.plugin(['logout', '--all', `--certificate-authority=${w.ca.caFile}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(w.issuer.stats.revocations.length - before, 2, r.stderr);
    assert.equal(cacheFiles(w).length, 0);
    const s = await w.plugin(['status', '-o', 'json']);
    assert.deepEqual(JSON.parse(s.stdout).sessions, []);
    const again = await w.kubectl(['auth', 'whoami']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await w.launches()) - launches, 1, 'a new login');
  });
});
