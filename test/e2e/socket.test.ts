/**
 * Issue 11, hostile input on the agent's socket and its directory. 10,000 random, truncated,
 * oversized and mutated frames against a real agent: it stays up (same pid), valid get-token keeps
 * working, and no client ever gets a token for a session it did not name (two sessions with
 * different client IDs; every token answered is checked against the client the frame named). The
 * frames are get-token's and login's request (a command line) and an older login's (parsed flags).
 * A socket directory owned by another user is refused by get-token and by `agent start`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, chownSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { agentPid, createWorld, requireTools, type World } from './world.js';
import { SECRET_CLIENT_ID, CLIENT_SECRET, PUBLIC_CLIENT_ID } from '../rig/issuer.js';
import type { KubectlResult } from '../rig/apiserver.js';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import { encodeFrame } from '../../lib/protocol/frames.js';
import { PROTOCOL_VERSION } from '../../lib/protocol/version.js';
import { MAX_FRAME_BYTES, type ExecRequest, type Request } from '../../lib/protocol/wire.js';
import { VERSION } from '../../lib/version.js';
import { FUZZ_SEED, prng } from '../support/fuzz.js';

const skip = requireTools();
const FRAMES = Number(process.env.KUBECTL_OIDC_SOCKET_FRAMES ?? 10_000);
const SEED = FUZZ_SEED;
const sockPath = (w: World) => join(w.env.KUBECTL_OIDC_RUNTIME_DIR!, 'agent.sock');
const audOf = (token: string): unknown => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).aud;

function assertToken(r: KubectlResult, clientId: string) {
  assert.equal(r.code, 0, r.stderr);
  const token = JSON.parse(r.stdout).status.token as string;
  assert.equal(audOf(token), clientId, 'the token of the session named');
}

/** Send bytes, half-close, collect whatever comes back until the agent hangs up (or `timeoutMs`). */
function exchange(path: string, bytes: string | Buffer, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    let got = '';
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (got += d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.once('connect', () => s.end(bytes));
  });
}

test('the socket: 10,000 hostile frames; tokens only for the session named; a foreign socket dir', { skip, timeout: 600_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close().catch(() => {}));
  const publicArgs = w.tokenArgs;
  const secretArgs = w.tokenArgs.map((a) => (a.startsWith('--oidc-client-id=') ? `--oidc-client-id=${SECRET_CLIENT_ID}` : a));
  const secretEnv = { KUBECTL_OIDC_CLIENT_SECRET: CLIENT_SECRET };
  assertToken(await w.plugin(['get-token', ...publicArgs]), PUBLIC_CLIENT_ID);
  assertToken(await w.plugin(['get-token', ...secretArgs], { env: secretEnv }), SECRET_CLIENT_ID);
  const pid = agentPid(w);
  assert.ok(pid !== undefined, 'an agent is running');

  const execFor = (argv: string[], env: Record<string, string>): ExecRequest => ({ op: 'exec', v: PROTOCOL_VERSION, version: VERSION, argv, cwd: process.cwd(), cluster: {}, apiVersion: 'client.authentication.k8s.io/v1', interactive: false, env });
  /** The token request of a login older than the one request kind (protocol 3 still): flags parsed on its side. The agent reads it still. */
  const olderLoginFor = (args: string[], env: Record<string, string>) => {
    const parsed = parseTokenFlags(args, process.cwd(), env);
    if (parsed.help) throw new Error('unexpected --help');
    return { op: 'token', v: PROTOCOL_VERSION, version: VERSION, ...parsed.flags, apiVersion: 'client.authentication.k8s.io/v1', interactive: false, env: {} };
  };
  const execPublic = execFor(publicArgs, {});
  const execSecret = execFor(secretArgs, secretEnv);
  const reqPublic = olderLoginFor(publicArgs, {});
  const reqSecret = olderLoginFor(secretArgs, secretEnv);
  const frameOf = (req: object) => encodeFrame(req as Request);

  await t.test('each session, asked over the socket (get-token\'s request and an older login\'s), answers with its own token', async () => {
    for (const [req, aud] of [[execPublic, PUBLIC_CLIENT_ID], [execSecret, SECRET_CLIENT_ID], [reqPublic, PUBLIC_CLIENT_ID], [reqSecret, SECRET_CLIENT_ID]] as const) {
      const answer = JSON.parse((await exchange(sockPath(w), frameOf(req))).trim().split('\n').pop()!);
      assert.equal(answer.t, 'token', JSON.stringify(answer));
      assert.equal(audOf(answer.token), aud);
    }
  });

  await t.test(`${FRAMES} random, truncated, oversized and mutated frames (seed ${SEED})`, async () => {
    const rand = prng(SEED);
    const int = (n: number) => Math.floor(rand() * n);
    const valid = encodeFrame(execPublic);
    const bases = [execPublic, execSecret, reqPublic, reqSecret].map(frameOf);
    type Kind = 'random' | 'truncated' | 'oversized' | 'wrongTypes' | 'exec' | 'mutated';
    const KINDS: readonly Kind[] = ['random', 'truncated', 'oversized', 'wrongTypes', 'exec', 'mutated'];
    /** Per category: frames sent, frames that got any answer, and tokens answered. */
    const stats = Object.fromEntries(KINDS.map((k) => [k, { sent: 0, answered: 0, tokens: 0 }])) as Record<Kind, { sent: number; answered: number; tokens: number }>;
    const frame = (): { kind: Kind; bytes: string | Buffer; named?: string } => {
      const r = rand();
      if (r < 0.35) {
        const b = Buffer.alloc(1 + int(2048));
        for (let i = 0; i < b.length; i++) b[i] = int(256);
        return { kind: 'random', bytes: rand() < 0.5 ? Buffer.concat([b, Buffer.from('\n')]) : b };
      }
      if (r < 0.65) {
        const cut = valid.slice(0, int(valid.length - 1));
        return { kind: 'truncated', bytes: rand() < 0.5 ? `${cut}\n` : cut };
      }
      if (r < 0.67) {
        return { kind: 'oversized', bytes: `{"op":"${rand() < 0.5 ? 'exec' : 'token'}","pad":"${'x'.repeat(MAX_FRAME_BYTES + int(4096))}"}\n` };
      }
      if (r < 0.95) {
        // The right shape (a command line, or an older login's flags) with a wrong type or value somewhere.
        const doc = JSON.parse(bases[int(bases.length)]!) as Record<string, unknown>;
        const keys = Object.keys(doc);
        const k = keys[int(keys.length)]!;
        doc[k] = [null, 1, 'x', [], {}, true, -1, '\u0000', { issuerUrl: 1 }][int(9)];
        // A wrong type in a field that does not name the session (forceRefresh: 'x', cwd: {}) may still be served: for the session it names.
        const provider = doc.provider as { clientId?: unknown } | null;
        const fromArgv = Array.isArray(doc.argv) ? (doc.argv as unknown[]).find((a): a is string => typeof a === 'string' && a.startsWith('--oidc-client-id='))?.slice('--oidc-client-id='.length) : undefined;
        const named = typeof provider === 'object' && provider !== null && typeof provider.clientId === 'string' ? provider.clientId : fromArgv;
        return { kind: 'wrongTypes', bytes: frameOf(doc), ...(named ? { named } : {}) };
      }
      if (rand() < 0.5) {
        // get-token's own request: its command line, with another client or a stray flag at times.
        const secret = rand() < 0.5;
        const clientId = rand() < 0.8 ? (secret ? SECRET_CLIENT_ID : PUBLIC_CLIENT_ID) : `other-${int(3)}`;
        const argv = (secret ? secretArgs : publicArgs).map((a) => (a.startsWith('--oidc-client-id=') ? `--oidc-client-id=${clientId}` : a));
        if (rand() < 0.3) argv.splice(int(argv.length + 1), 0, ['--bogus', '-v9', '--oidc-extra-scope=profile', '', '--=', '-', '--token-cache-storage=none'][int(7)]!);
        const env = secret && rand() < 0.8 ? secretEnv : {};
        // login's form at times: it asks for the ID token (the same session).
        const req: ExecRequest = { ...execFor(argv, env), ...(rand() < 0.2 ? { idToken: true } : {}) };
        return { kind: 'exec', bytes: encodeFrame(req), named: clientId };
      }
      // An older login's well-formed request naming one of the two clients, or another one, with other scopes at times.
      const base = rand() < 0.5 ? reqPublic : reqSecret;
      const clientId = rand() < 0.8 ? base.provider.clientId : `other-${int(3)}`;
      const req = { ...base, provider: { ...base.provider, clientId, ...(rand() < 0.2 ? { extraScopes: ['profile'] } : {}), ...(rand() < 0.3 ? { clientSecret: undefined } : {}) } };
      return { kind: 'mutated', bytes: frameOf(req), named: clientId };
    };
    let i = 0;
    const worker = async () => {
      while (i < FRAMES) {
        i++;
        const f = frame();
        const got = await exchange(sockPath(w), f.bytes);
        const counts = stats[f.kind];
        counts.sent++;
        if (got !== '') counts.answered++;
        for (const line of got.split('\n').filter(Boolean)) {
          const answer = JSON.parse(line) as { t?: string; token?: string };
          if (answer.t !== 'token') continue;
          counts.tokens++;
          assert.ok(f.named !== undefined, `a token for a frame that named no session: ${String(f.bytes).slice(0, 200)}`);
          // useAccessToken: true (a mutation may set it) answers the issuer's opaque access token: no aud to read.
          if (answer.token!.split('.').length !== 3) assert.match(String(f.bytes), /"useAccessToken":true/, 'only an access token is not a JWT');
          else assert.equal(audOf(answer.token!), f.named, 'a token only for the session the frame named');
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: 32 }, worker));
    t.diagnostic(`${FRAMES} frames in ${Date.now() - started} ms: ${JSON.stringify(stats)}`);
    // A check of each answer passes when nothing answers: every category must have been sent and answered, and
    // those that name a session must have got tokens back, or "a token only for the session named" tested nothing.
    for (const k of KINDS) {
      assert.ok(stats[k].sent > 0, `no ${k} frame was sent (${FRAMES} frames, seed ${SEED})`);
      assert.ok(stats[k].answered > 0, `no ${k} frame got an answer: ${JSON.stringify(stats[k])}`);
    }
    // About 1 frame in 40 is of each of these kinds: KUBECTL_OIDC_SOCKET_FRAMES under ~1,000 may send too few.
    for (const k of ['exec', 'mutated'] as const) assert.ok(stats[k].tokens > 0, `no ${k} frame got a token back: ${JSON.stringify(stats[k])}`);
    assert.equal(agentPid(w), pid, 'the same agent');
    process.kill(pid, 0);
    assertToken(await w.plugin(['get-token', ...publicArgs]), PUBLIC_CLIENT_ID);
    assertToken(await w.plugin(['get-token', ...secretArgs], { env: secretEnv }), SECRET_CLIENT_ID);
    assert.equal(agentPid(w), pid, 'the same agent served them');
  });

  await t.test('a socket dir owned by another user is refused by get-token (with a clear message) and by agent start', { skip: process.getuid?.() === 0 ? false : 'needs root to chown a dir to nobody' }, async () => {
    const foreign = join(w.dir, 'foreign-run');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    const env = { KUBECTL_OIDC_RUNTIME_DIR: foreign };
    const r = await w.plugin(['get-token', ...publicArgs], { env });
    // The token still comes (in-process, from the cache); the directory is not used, and the user is told why.
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^kubectl-oidc: not using the agent: ${foreign} is owned by uid 65534, not by you \\(uid 0\\); refusing to use it\\n`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const s = await w.plugin(['agent', 'start'], { env });
    assert.notEqual(s.code, 0, s.stderr);
    assert.equal(s.stdout, '');
    assert.match(s.stderr, new RegExp(`^kubectl-oidc: ${foreign} is owned by uid 65534, not by you \\(uid 0\\); refusing to use it\\n`));
    assert.doesNotMatch(s.stderr, /\n\s+at /);
    assert.ok(s.stderr.trimEnd().split('\n').length <= 2, s.stderr);
  });
});
