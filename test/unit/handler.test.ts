import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleRequest, type HandlerContext } from '../../lib/agent/handler.js';
import type { Registry } from '../../lib/agent/registry.js';
import { parseRequest } from '../../lib/agent/request.js';
import { envelope, type ExecRequest } from '../../lib/protocol/wire.js';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import type { TokenFlags } from '../../lib/flags/table.js';
import { isOidcError } from '../../lib/errors.js';

/** A registry that records the flags it is asked with and answers a fixed token. */
function recorder(): { ctx: HandlerContext; seen: TokenFlags[] } {
  const seen: TokenFlags[] = [];
  const registry = {
    async getToken(o: { flags: TokenFlags }) {
      seen.push(o.flags);
      return { idToken: 'id.to.ken', expiresAt: 2e9, accessToken: 'ac.ce.ss' };
    },
  } as unknown as Registry;
  return { ctx: { registry }, seen };
}
const silent = { notify() {}, prompt: async () => null };

function exec(argv: string[], over: Partial<ExecRequest> = {}): ExecRequest {
  return { ...envelope(), op: 'exec', argv, cwd: '/tmp', cluster: {}, apiVersion: 'client.authentication.k8s.io/v1', interactive: false, env: { HOME: '/home/someone' }, ...over };
}

/** As the agent serves a frame: parsed (agent/request.ts), then handled. */
const serve = async (frame: unknown, ctx: HandlerContext) => handleRequest(parseRequest(frame), silent, ctx);

test('exec: the agent parses the command line as get-token would, with the caller\'s cwd and HOME', async () => {
  const { ctx, seen } = recorder();
  const reply = await serve(exec(['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--certificate-authority=~/ca.pem', '--token-cache-dir=rel', '--oidc-extra-scope=email,groups']), ctx);
  assert.deepEqual(reply, { t: 'token', token: 'id.to.ken', expiresAt: 2e9 });
  const f = seen[0]!;
  assert.equal(f.provider.issuerUrl, 'https://i.example/dex');
  assert.deepEqual(f.provider.caFiles, ['/home/someone/ca.pem']);
  assert.equal(f.cache.dir, '/tmp/rel');
  assert.deepEqual(f.provider.extraScopes, ['email', 'groups']);
  const access = await serve(exec(['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--oidc-use-access-token']), ctx);
  assert.deepEqual(access, { t: 'token', token: 'ac.ce.ss', expiresAt: 2e9 });
});

test('exec: a bad command line is the caller\'s usage error, said by the agent', async () => {
  const { ctx } = recorder();
  await assert.rejects(serve(exec(['--oidc-client-id=k']), ctx), (e) => isOidcError(e, 'E_USAGE') && /--oidc-issuer-url/.test(e.message));
  await assert.rejects(serve(exec(['--oidc-issuer-url=https://i.example', '--oidc-client-id=k', '--no-such-flag']), ctx), (e) => isOidcError(e, 'E_USAGE'));
});

test('exec: a repeated command line is parsed once; one that reads a secret file is read every time', async () => {
  const { ctx, seen } = recorder();
  const argv = ['--oidc-issuer-url=https://cache.example/dex', '--oidc-client-id=k'];
  await serve(exec(argv), ctx);
  await serve(exec(argv), ctx);
  assert.equal(seen[0], seen[1], 'the same parsed flags');
  // Another caller's HOME is another command line.
  await serve(exec(argv, { env: { HOME: '/home/other' } }), ctx);
  assert.notEqual(seen[2], seen[1]);
  const dir = mkdtempSync(join(tmpdir(), 'ko-handler-'));
  try {
    const file = join(dir, 'secret');
    const withFile = [...argv, `--oidc-client-secret-file=${file}`];
    writeFileSync(file, 'first\n');
    await serve(exec(withFile), ctx);
    writeFileSync(file, 'second\n');
    await serve(exec(withFile), ctx);
    assert.equal(seen[3]!.provider.clientSecret, 'first');
    assert.equal(seen[4]!.provider.clientSecret, 'second');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('login: the same request as get-token, interactive, and for the ID token whatever --oidc-use-access-token says', async () => {
  const { ctx, seen } = recorder();
  const argv = ['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--oidc-use-access-token', '--force-refresh'];
  const reply = await serve(exec(argv, { interactive: true, idToken: true }), ctx);
  assert.deepEqual(reply, { t: 'token', token: 'id.to.ken', expiresAt: 2e9 });
  assert.equal(seen[0]!.forceRefresh, true);
  assert.equal(seen[0]!.useAccessToken, false);
  assert.deepEqual(await serve(exec(argv), ctx), { t: 'token', token: 'ac.ce.ss', expiresAt: 2e9 }, 'get-token with the same command line: the access token');
  assert.equal(seen[1]!.useAccessToken, true, 'the kept parse was not changed by the login');
});

test('an older login\'s token request (parsed flags, protocol 3) is read into the same request as a command line', async () => {
  const argv = ['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--oidc-extra-scope=email', '--force-refresh'];
  const parsed = parseTokenFlags(argv, '/tmp', {});
  assert.ok(!parsed.help);
  const { ctx, seen } = recorder();
  const old = { ...envelope(), op: 'token', ...parsed.flags, useAccessToken: false, apiVersion: 'client.authentication.k8s.io/v1', interactive: true, env: { HTTPS_PROXY: 'http://p:3128', HOME: '/h' } };
  assert.deepEqual(await serve(old, ctx), { t: 'token', token: 'id.to.ken', expiresAt: 2e9 });
  await serve(exec(argv), ctx);
  assert.deepEqual(seen[0], seen[1], 'the same flags either way');
  const a = parseRequest(old);
  const b = parseRequest(exec(argv, { interactive: true, env: { HTTPS_PROXY: 'http://p:3128', HOME: '/h' } }));
  assert.deepEqual(a, b);
});
