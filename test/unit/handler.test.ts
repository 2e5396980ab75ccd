import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { handleRequest, type HandlerContext } from '../../lib/agent/handler.js';
import type { Registry } from '../../lib/agent/registry.js';
import { envelope, type ExecRequest } from '../../lib/protocol.js';
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

test('exec: the agent parses the command line as get-token would, with the caller\'s cwd and HOME', async () => {
  const { ctx, seen } = recorder();
  const reply = await handleRequest(exec(['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--certificate-authority=~/ca.pem', '--token-cache-dir=rel', '--oidc-extra-scope=email,groups']), silent, ctx);
  assert.deepEqual(reply, { t: 'token', token: 'id.to.ken', expiresAt: 2e9 });
  const f = seen[0]!;
  assert.equal(f.provider.issuerUrl, 'https://i.example/dex');
  assert.deepEqual(f.provider.caFiles, ['/home/someone/ca.pem']);
  assert.equal(f.cache.dir, '/tmp/rel');
  assert.deepEqual(f.provider.extraScopes, ['email', 'groups']);
  const access = await handleRequest(exec(['--oidc-issuer-url=https://i.example/dex', '--oidc-client-id=k', '--oidc-use-access-token']), silent, ctx);
  assert.equal(access.token, 'ac.ce.ss');
});

test('exec: a bad command line is the caller\'s usage error, said by the agent', async () => {
  const { ctx } = recorder();
  await assert.rejects(handleRequest(exec(['--oidc-client-id=k']), silent, ctx), (e) => isOidcError(e, 'E_USAGE') && /--oidc-issuer-url/.test(e.message));
  await assert.rejects(handleRequest(exec(['--oidc-issuer-url=https://i.example', '--oidc-client-id=k', '--no-such-flag']), silent, ctx), (e) => isOidcError(e, 'E_USAGE'));
});

test('exec: a repeated command line is parsed once; one that reads a secret file is read every time', async () => {
  const { ctx, seen } = recorder();
  const argv = ['--oidc-issuer-url=https://cache.example/dex', '--oidc-client-id=k'];
  await handleRequest(exec(argv), silent, ctx);
  await handleRequest(exec(argv), silent, ctx);
  assert.equal(seen[0], seen[1], 'the same parsed flags');
  // Another caller's HOME is another command line.
  await handleRequest(exec(argv, { env: { HOME: '/home/other' } }), silent, ctx);
  assert.notEqual(seen[2], seen[1]);
  const dir = mkdtempSync(join(tmpdir(), 'ko-handler-'));
  try {
    const file = join(dir, 'secret');
    const withFile = [...argv, `--oidc-client-secret-file=${file}`];
    writeFileSync(file, 'first\n');
    await handleRequest(exec(withFile), silent, ctx);
    writeFileSync(file, 'second\n');
    await handleRequest(exec(withFile), silent, ctx);
    assert.equal(seen[3]!.provider.clientSecret, 'first');
    assert.equal(seen[4]!.provider.clientSecret, 'second');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
