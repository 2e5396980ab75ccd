/**
 * Issue 8 end to end: `kubectl oidc setup` prints kube-apiserver flags and an AuthenticationConfiguration
 * that each make a test API server accept the token as the same user and groups, a set-credentials
 * command that real kubectl runs, and --write-kubeconfig edits a kubeconfig in place (comments kept,
 * backup first, idempotent). Real kubectl, Chromium, the HTTPS issuer; one world, steps in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createWorld, requireTools, run, type World } from './world.js';
import { startApiServer, writeKubeconfig, runKubectl, type ApiServerOptions } from '../rig/apiserver.js';

const skip = requireTools();

/** The lines of the `### title…` section of setup's output, up to the next heading. */
function section(out: string, title: string): string[] {
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`### ${title}`));
  assert.ok(start >= 0, `no section ${title} in:\n${out}`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('##'));
  return lines.slice(start + 1, end < 0 ? undefined : end).filter((l) => l.trim() !== '');
}

function flagsToOptions(lines: string[]): { settings: Partial<ApiServerOptions>; caFile?: string } {
  const f = new Map(lines.filter((l) => l.startsWith('--')).map((l) => [l.slice(2, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  const settings: Partial<ApiServerOptions> = { issuerUrl: f.get('oidc-issuer-url')!, clientId: f.get('oidc-client-id')!, usernameClaim: f.get('oidc-username-claim')!, groupsClaim: f.get('oidc-groups-claim') ?? 'none' };
  if (f.has('oidc-username-prefix')) settings.usernamePrefix = f.get('oidc-username-prefix')!;
  if (f.has('oidc-groups-prefix')) settings.groupsPrefix = f.get('oidc-groups-prefix')!;
  const caFile = f.get('oidc-ca-file');
  return caFile ? { settings, caFile } : { settings };
}

function configToOptions(lines: string[]): Partial<ApiServerOptions> {
  const doc = parse(lines.join('\n'));
  assert.equal(doc.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.equal(doc.kind, 'AuthenticationConfiguration');
  const [jwt] = doc.jwt;
  const { username, groups } = jwt.claimMappings;
  // kube-apiserver refuses a claim mapping without a prefix ("" is fine).
  assert.equal(typeof username.prefix, 'string');
  if (groups) assert.equal(typeof groups.prefix, 'string');
  assert.match(jwt.issuer.certificateAuthority, /^-----BEGIN CERTIFICATE-----/);
  return {
    issuerUrl: jwt.issuer.url,
    clientId: jwt.issuer.audiences[0],
    issuerCaPem: jwt.issuer.certificateAuthority,
    usernameClaim: username.claim,
    usernamePrefix: username.prefix === '' ? '-' : username.prefix,
    groupsClaim: groups?.claim ?? 'none',
    ...(groups ? { groupsPrefix: groups.prefix } : {}),
  };
}

/** A test API server configured as printed; `kubectl auth whoami` through it, as the user sees it. */
async function whoamiVia(w: World, o: Partial<ApiServerOptions>, tokenArgs: string[]): Promise<{ username: string; groups: string[] }> {
  const api = await startApiServer({ ca: w.ca, issuerCaPem: '', ...o } as ApiServerOptions);
  try {
    const kc = await writeKubeconfig({ path: join(w.dir, `kc-${api.url.split(':').pop()}`), server: api.url, caPem: api.caPem, user: { exec: { command: 'kubectl-oidc', args: ['get-token', ...tokenArgs] } } });
    const r = await w.kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: kc });
    assert.equal(r.code, 0, `${r.stderr} (last rejection: ${api.lastRejection})`);
    return JSON.parse(r.stdout).status.userInfo;
  } finally {
    await api.close();
  }
}

test('setup', { skip, timeout: 180_000 }, async (t) => {
  const w = await createWorld();
  t.after(() => w.close());
  const base = join(w.dir, 'kubeconfig');

  let out = '';
  await t.test('setup logs in and prints the admin and user parts on stdout', async () => {
    const kc = join(w.dir, 'kc-print');
    copyFileSync(base, kc);
    const r = await w.plugin(['setup', ...w.tokenArgs], { env: { KUBECONFIG: kc } });
    assert.equal(r.code, 0, r.stderr);
    out = r.stdout;
    assert.equal(await w.launches(), 1);
    assert.doesNotMatch(out, /eyJ/, 'no token');
    assert.match(out, /Kubernetes will see you as "alice@example\.com" in groups "developers", "kubectl-oidc:users"/);
    assert.match(out, /kind: ClusterRoleBinding[\s\S]*name: alice@example\.com/);
    assert.match(out, /reuseInterval/);
    assert.match(out, /credentialPluginPolicy/);
    assert.match(out, /--exec-command=kubectl-oidc --exec-arg=get-token /);
  });

  await t.test('the printed set-credentials carries every flag given, paths made absolute (issue 16.3)', async () => {
    // Settings outside the session's identity: the session from the first setup serves, no new login.
    const extra = ['--oidc-use-access-token', '--oidc-redirect-url-hostname=127.0.0.1', '--oidc-pkce-method=S256', '--grant-type=authcode', '--oidc-request-header=X-Tenant=blue',
      '--authentication-timeout-sec=60', '--local-server-cert=rel/cert.pem', '--local-server-key=rel/key.pem'];
    const launches = await w.launches();
    const r = await w.plugin(['setup', ...w.tokenArgs, ...extra], { env: { KUBECONFIG: base } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await w.launches(), launches, 'no new login');
    const line = section(r.stdout, 'Add the exec user').find((l) => l.startsWith('kubectl config set-credentials'))!;
    const printed = [...line.matchAll(/--exec-arg=('(?:[^']|'\\'')*'|\S+)/g)].map((m) => m[1]!.replace(/^'|'$/g, '').replace(/'\\''/g, "'"));
    const abs = (f: string) => join(process.cwd(), f);
    for (const a of [...w.tokenArgs, ...extra.map((a) => a.replace(/=(rel\/.*)$/, (_, f: string) => `=${abs(f)}`))]) assert.ok(printed.includes(a), `${a} in: ${line}`);
  });

  const want = { username: 'alice@example.com', groups: ['developers', 'kubectl-oidc:users', 'system:authenticated'] };
  await t.test('the printed flags and the printed AuthenticationConfiguration accept the token as the same user and groups', async () => {
    const { settings, caFile } = flagsToOptions(section(out, 'kube-apiserver flags'));
    assert.equal(settings.usernameClaim, 'email');
    assert.equal(caFile, w.ca.caFile);
    const viaFlags = await whoamiVia(w, { ...settings, issuerCaPem: readFileSync(caFile!, 'utf8') }, w.tokenArgs);
    const viaConfig = await whoamiVia(w, configToOptions(section(out, 'Or the equivalent AuthenticationConfiguration')), w.tokenArgs);
    assert.deepEqual(viaFlags, want);
    assert.deepEqual(viaConfig, viaFlags);
  });

  await t.test('without a verified email: sub with the issuer prefix, the same from flags and configuration', async () => {
    const args = w.tokenArgs.filter((a) => a !== '--oidc-extra-scope=email');
    const r = await w.plugin(['setup', ...args], { env: { KUBECONFIG: base } });
    assert.equal(r.code, 0, r.stderr);
    const { settings, caFile } = flagsToOptions(section(r.stdout, 'kube-apiserver flags'));
    assert.equal(settings.usernameClaim, 'sub');
    const viaFlags = await whoamiVia(w, { ...settings, issuerCaPem: readFileSync(caFile!, 'utf8') }, args);
    const viaConfig = await whoamiVia(w, configToOptions(section(r.stdout, 'Or the equivalent AuthenticationConfiguration')), args);
    assert.equal(viaFlags.username, `${w.issuer.url}#alice`);
    assert.deepEqual(viaConfig, viaFlags);
  });

  await t.test('the printed set-credentials and set-context commands, run by kubectl, give a working kubeconfig', async () => {
    const kc = join(w.dir, 'kc-commands');
    copyFileSync(base, kc);
    const cmds = section(out, 'Add the exec user').filter((l) => l.startsWith('kubectl config '));
    assert.equal(cmds.length, 2);
    const sh = await run('/bin/sh', ['-ec', cmds.join('\n')], { ...process.env, ...w.env, KUBECONFIG: kc }, 30_000);
    assert.equal(sh.code, 0, sh.stderr);
    const cfg = parse(readFileSync(kc, 'utf8'));
    const user = cfg.users.find((u: { name: string }) => u.name === 'oidc').user.exec;
    assert.equal(user.command, 'kubectl-oidc');
    assert.equal(user.interactiveMode, 'IfAvailable');
    const r = await runKubectl(['--context', 'oidc@test', 'auth', 'whoami'], { kubeconfig: kc, env: w.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /alice@example\.com/);
  });

  await t.test('--write-kubeconfig: adds the user and a context, keeps comments and entries, backs up, and is idempotent', async () => {
    const dir = join(w.dir, 'kcw');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    const kc = join(dir, 'config');
    writeFileSync(kc, `# my clusters; keep this comment\n${readFileSync(base, 'utf8')}`, { mode: 0o600 });
    const env = { KUBECONFIG: `${kc}:${join(dir, 'other')}` };
    const r = await w.plugin(['setup', ...w.tokenArgs, '--write-kubeconfig'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /added user oidc and context oidc@test/);
    const after = readFileSync(kc, 'utf8');
    assert.match(after, /^# my clusters; keep this comment/);
    const cfg = parse(after);
    assert.deepEqual(cfg.users.map((u: { name: string }) => u.name), ['test', 'oidc']);
    assert.deepEqual(cfg.contexts.map((c: { name: string }) => c.name), ['test', 'oidc@test']);
    assert.equal(cfg['current-context'], 'test', 'the current context is left alone');
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bak')).length, 1, 'one backup');
    const again = await w.plugin(['setup', ...w.tokenArgs, '--write-kubeconfig'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /nothing written/);
    assert.equal(readFileSync(kc, 'utf8'), after, 'idempotent');
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.bak')).length, 1, 'no second backup');
    const who = await runKubectl(['--context', 'oidc@test', 'auth', 'whoami'], { kubeconfig: kc, env: w.env });
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /alice@example\.com/);
  });

  await t.test('login --context / --user reads the get-token flags from the kubeconfig', async () => {
    const kc = join(w.dir, 'kcw', 'config');
    for (const sel of ['--context=oidc@test', '--user=oidc']) {
      const r = await w.plugin(['login', sel], { env: { KUBECONFIG: kc } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /logged in as alice@example\.com[\s\S]*groups: developers/);
    }
    const bad = await w.plugin(['login', '--context=nope'], { env: { KUBECONFIG: kc } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no context "nope"/);
  });
});
