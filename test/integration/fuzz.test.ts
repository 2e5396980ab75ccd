/**
 * Issue 11: KUBERNETES_EXEC_INFO and the get-token flags get malformed JSON and values. The answer is
 * always a value or an OidcError with a one-line message, never another exception (a TypeError from a
 * property of null would reach the user as a stack). Seeded: KUBECTL_OIDC_FUZZ_SEED=N reproduces a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExecInfo } from '../../lib/exec-credential.js';
import { parseTokenFlags } from '../../lib/flags/parse.js';
import { isOidcError } from '../../lib/errors.js';
import { ENTRY } from '../e2e/world.js';
import { FUZZ_SEED, prng } from '../support/fuzz.js';
import { existsSync } from 'node:fs';

const SEED = FUZZ_SEED;
const ROUNDS = Number(process.env.KUBECTL_OIDC_FUZZ_ROUNDS ?? 4000);

function generators(rand: () => number) {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const chars = ['a', 'Z', '0', '{', '}', '[', ']', '"', '\\', ':', ',', ' ', '\n', '\u0000', '\u2028', 'é', '💥', '=', '-', '/', '.', '~', '%'];
  const str = (max = 24): string => Array.from({ length: int(max) }, () => pick(chars)).join('');
  const odd: unknown[] = [null, true, false, 0, -1, 1e308, 'x', '', [], {}, [null], { a: 1 }, '__proto__', 'constructor', 'client.authentication.k8s.io/v1'];
  const value = (depth = 0): unknown => {
    const r = rand();
    if (depth > 3 || r < 0.4) return pick([...odd, str(), int(1000)]);
    if (r < 0.7) return Array.from({ length: int(4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    // defineProperty: an own "__proto__" key, as JSON.parse makes it (an assignment would set the prototype).
    for (let i = int(5); i > 0; i--) {
      const k = pick(['apiVersion', 'kind', 'spec', 'interactive', 'cluster', 'config', 'server', 'certificate-authority-data', '__proto__', str(6)]);
      Object.defineProperty(o, k, { value: value(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  /** A valid-looking exec info with one part replaced, or cut short, or bytes flipped. */
  const execInfo = (): string => {
    const base: Record<string, unknown> = {
      apiVersion: pick(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1', value()]),
      kind: pick(['ExecCredential', value()]),
      spec: pick([{ interactive: pick([true, false, value()]), cluster: pick([undefined, value(), { server: value(), config: value(), 'certificate-authority-data': value() }]) }, value()]),
    };
    let s = JSON.stringify(rand() < 0.2 ? value() : base) ?? 'undefined';
    const how = int(5);
    if (how === 0) s = s.slice(0, int(s.length + 1));
    else if (how === 1) s = s.split('').map((c) => (rand() < 0.05 ? pick(chars) : c)).join('');
    else if (how === 2) s = str(60);
    else if (how === 3) s = `${s}\n`;
    return s;
  };
  const flagNames = ['oidc-issuer-url', 'oidc-client-id', 'oidc-extra-scope', 'listen-address', 'listen-port', 'grant-type', 'oidc-pkce-method', 'authentication-timeout-sec',
    'token-cache-storage', 'token-cache-dir', 'oidc-auth-request-extra-params', 'certificate-authority', 'certificate-authority-data', 'oidc-redirect-url',
    'oidc-redirect-url-hostname', 'browser-command', 'username', 'v', 'force-refresh', 'oidc-use-access-token', 'help', 'unknown-flag', 'log_dir', 'logtostderr', ''];
  const flagValues = () => pick(['https://issuer.example', 'http://x', 'https://', '127.0.0.1:0', '[::1]:99999', ':', 'authcode', 'device-code', 'S256', 'plain', '-1', 'NaN', '1e9', '0',
    'file', 'disk', 'keyring', 'none', 'k=v', '=v', 'k', '~/x', 'relative/dir', '%zz', str(), 'true', 'false']);
  const argv = (): string[] => {
    const out: string[] = [];
    if (rand() < 0.7) out.push(`--oidc-issuer-url=${pick(['https://issuer.example/dex', flagValues()])}`);
    if (rand() < 0.7) out.push(`--oidc-client-id=${pick(['kubernetes', flagValues()])}`);
    for (let i = int(6); i > 0; i--) {
      const name = pick(flagNames);
      const r = rand();
      if (r < 0.4) out.push(`--${name}=${flagValues()}`);
      else if (r < 0.6) out.push(`--${name}`, flagValues());
      else if (r < 0.7) out.push(`-${name}`);
      else if (r < 0.8) out.push(`--${name}`);
      else out.push(flagValues());
    }
    return out;
  };
  return { value, execInfo, argv, rand, int };
}

/** A value, or an OidcError with a message on one line (and a hint on at most one more): nothing else. */
function assertClear(what: string, input: unknown, run: () => unknown): 'ok' | 'error' {
  try {
    run();
    return 'ok';
  } catch (err) {
    const show = `${what} ${JSON.stringify(input)} (KUBECTL_OIDC_FUZZ_SEED=${SEED})`;
    assert.ok(isOidcError(err), `${show} threw ${(err as Error)?.stack ?? String(err)}`);
    assert.doesNotMatch(err.message, /\n/, `${show}: a one-line message: ${err.message}`);
    assert.ok(err.message.length > 0 && err.message.length < 600, `${show}: a short message`);
    if (err.hint !== undefined) assert.doesNotMatch(err.hint, /\n/, `${show}: a one-line hint`);
    return 'error';
  }
}

test(`parseExecInfo: ${ROUNDS} malformed documents give a value or a one-line OidcError`, (t) => {
  const g = generators(prng(SEED));
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const raw = g.execInfo();
    seen[assertClear('parseExecInfo', raw, () => parseExecInfo(raw, g.rand() < 0.5))]++;
  }
  t.diagnostic(`seed ${SEED}: ${seen.ok} parsed, ${seen.error} refused`);
  assert.ok(seen.ok > 0 && seen.error > 0, 'the generator reaches both outcomes');
});

test(`parseTokenFlags: ${ROUNDS} random argv and cluster extensions give a value or a one-line OidcError`, (t) => {
  const g = generators(prng(SEED + 1));
  const cwd = mkdtempSync(join(tmpdir(), 'ko-fuzz-'));
  const seen = { ok: 0, error: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    const argv = g.argv();
    const cluster = g.rand() < 0.3 ? { config: g.value(), ...(g.rand() < 0.5 ? { caData: JSON.stringify(g.value()) ?? '' } : {}) } : {};
    const env = g.rand() < 0.2 ? { KUBECTL_OIDC_CLIENT_SECRET: JSON.stringify(g.value()) ?? '', KUBECTL_OIDC_DEBUG: '1' } : {};
    seen[assertClear('parseTokenFlags', { argv, cluster }, () => parseTokenFlags(argv, cwd, env, cluster as Parameters<typeof parseTokenFlags>[3]))]++;
  }
  t.diagnostic(`seed ${SEED + 1}: ${seen.ok} parsed, ${seen.error} refused`);
  assert.ok(seen.ok > 0 && seen.error > 0, 'the generator reaches both outcomes');
});

test('the plugin with garbage KUBERNETES_EXEC_INFO: exit 2, one line on stderr, no stack, nothing on stdout', { skip: existsSync(ENTRY) ? false : `no ${ENTRY} (npm run build)` }, () => {
  const g = generators(prng(SEED + 2));
  const samples = ['{', 'null', '[]', '"x"', '{"apiVersion":"v9","kind":"ExecCredential"}', '{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}}',
    '{"apiVersion":"client.authentication.k8s.io/v1","kind":"Pod"}', '{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":7}}', '\u0000\u0001\u00ff', ...Array.from({ length: 6 }, () => `{${g.execInfo()}`)];
  const home = mkdtempSync(join(tmpdir(), 'ko-fuzz-home-'));
  for (const info of samples) {
    const r = spawnSync(process.execPath, [ENTRY, 'get-token', '--oidc-issuer-url=https://127.0.0.1:1/dex', '--oidc-client-id=k'], {
      env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: join(home, 'c'), XDG_STATE_HOME: join(home, 's'), KUBECTL_OIDC_RUNTIME_DIR: join(home, 'run'), KUBERNETES_EXEC_INFO: info.replace(/\u0000/g, '') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const show = JSON.stringify(info);
    assert.equal(r.status, 2, `${show}: ${r.stderr}`);
    assert.equal(r.stdout, '', show);
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(lines[0]!, /^kubectl-oidc: KUBERNETES_EXEC_INFO /, `${show}: ${r.stderr}`);
    assert.ok(lines.length <= 2 && (lines.length === 1 || /^\s{2}/.test(lines[1]!)), `${show}: one line (and a hint): ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at |Error:/, `${show}: no stack`);
  }
});
