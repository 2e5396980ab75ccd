import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OidcError } from '../errors.js';
import { takeFlags } from '../cli.js';
import { TOKEN_FLAGS_HELP } from '../flags/help.js';
import { tokenArgsToWrite } from '../flags/write-back.js';
import { claimsOf, identityOf } from '../jwt.js';
import { printable } from '../printable.js';
import { currentCluster, kubeconfigPath, loadYaml, writeUserAndContext, type ExecEntry } from '../kubeconfig.js';
import { loginNow, tokenFlagsWithKubeconfig } from './login.js';
import type { Io } from '../io.js';

const SETUP_HELP = `Usage: kubectl oidc setup --oidc-issuer-url=URL --oidc-client-id=ID [get-token flags] [--write-kubeconfig]

Logs in, then prints on stdout what each person needs, from the claims of your own ID token:
  for the cluster admin: the kube-apiserver --oidc-* flags, the equivalent AuthenticationConfiguration
    (apiserver.config.k8s.io/v1, the CA's PEM inline), a ClusterRoleBinding example, and a note on
    Dex's refresh token rotation;
  for you: the \`kubectl config set-credentials\` and \`set-context\` commands that add this exec user.
The username claim is email when the token has a verified email, else sub; groups when present.

Flags of setup:
  --write-kubeconfig     add the user and a context for the current context's cluster to the kubeconfig
                         ($KUBECONFIG's first file or ~/.kube/config); a backup is written first, and
                         running it again changes nothing
  --name=NAME            the kubeconfig user to add (default oidc); the context is NAME@CLUSTER
  --kubeconfig=FILE      the kubeconfig to write (default $KUBECONFIG's first file or ~/.kube/config)

Examples:
  kubectl oidc setup --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes \\
    --oidc-extra-scope=email --oidc-extra-scope=groups --certificate-authority=ca.pem
  kubectl oidc setup --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes --write-kubeconfig

${TOKEN_FLAGS_HELP}
`;

export interface ClaimChoice {
  username: { claim: string; prefix: string };
  groups?: { claim: string; prefix: string };
}

/**
 * The claim mappings for this user's token, as kube-apiserver applies them: `email` (no prefix) when
 * present and verified, else `sub` with the issuer URL and '#' as prefix (what the flags do by default).
 */
function chooseClaims(issuerUrl: string, claims: Record<string, unknown>): ClaimChoice {
  const emailOk = typeof claims.email === 'string' && claims.email !== '' && claims.email_verified === true;
  const c: ClaimChoice = { username: emailOk ? { claim: 'email', prefix: '' } : { claim: 'sub', prefix: `${issuerUrl}#` } };
  if (claims.groups !== undefined) c.groups = { claim: 'groups', prefix: '' };
  return c;
}

const shq = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export async function setupCommand(io: Io): Promise<number> {
  const { values, rest } = takeFlags(io.argv, { strings: ['name'], booleans: ['write-kubeconfig'] });
  // --kubeconfig stays in `rest`: tokenFlagsWithKubeconfig reads it (for --context/--user) and so do we.
  const kcFlag = takeFlags(rest, { strings: ['kubeconfig'], booleans: [] }).values.kubeconfig;
  const parsed = await tokenFlagsWithKubeconfig(io, rest);
  if (parsed.help) {
    io.stdout(SETUP_HELP);
    return 0;
  }
  const name = typeof values.name === 'string' ? values.name : 'oidc';
  const kubeconfig = typeof kcFlag === 'string' ? resolve(io.cwd, kcFlag) : kubeconfigPath(io.env);
  const flags = parsed.flags;
  const { provider } = flags;
  // Exactly the user's own flags (paths absolute), not a rebuild from the parsed settings: a secret from a file or the environment stays there.
  const written = tokenArgsToWrite(parsed.args, io.cwd, io.env);
  if (written.args.some((a) => a.startsWith('--oidc-client-secret='))) {
    io.stderr('kubectl-oidc: note: --oidc-client-secret goes into the printed command and the kubeconfig; use --oidc-client-secret-file=FILE (or KUBECTL_OIDC_CLIENT_SECRET), or a public client (Dex: public: true) that needs none\n');
  }
  for (const n of written.notes) io.stderr(`kubectl-oidc: note: ${n}\n`);

  const reply = await loginNow(io, parsed);
  const claims = claimsOf(reply.token);
  const who = identityOf(claims);
  const choice = chooseClaims(provider.issuerUrl, claims);
  const pems = [...provider.caFiles.map((f) => readFileSync(f, 'utf8')), ...provider.caData.map((d) => Buffer.from(d, 'base64').toString('utf8'))];
  const caPem = pems.map((p) => p.trim()).join('\n') + (pems.length > 0 ? '\n' : '');
  const cluster = await currentCluster(kubeconfig);
  const { stringify } = await loadYaml();
  const context = `${name}@${cluster ?? 'CLUSTER'}`;
  const username = printable(`${choice.username.prefix}${String(claims[choice.username.claim])}`, 512); // issuer text, into YAML and comments
  const exec: ExecEntry = { apiVersion: 'client.authentication.k8s.io/v1', command: 'kubectl-oidc', args: ['get-token', ...written.args], interactiveMode: 'IfAvailable' };

  const out: string[] = [];
  const say = (...lines: string[]) => out.push(...lines);
  say(
    `# kubectl-oidc setup: issuer ${provider.issuerUrl}, client ${provider.clientId}`,
    `# Your ID token: sub ${who.subject ?? '(none)'}, email ${who.email ?? '(none)'}${claims.email_verified === true ? ' (verified)' : who.email ? ' (not verified)' : ''}, groups ${who.groups?.join(', ') ?? '(none)'}`,
    `# Kubernetes will see you as ${JSON.stringify(username)}${choice.groups ? ` in groups ${(who.groups ?? []).map((g) => JSON.stringify(g)).join(', ')}` : ''}.`,
  );
  if (choice.username.claim === 'sub') say('# (no verified email in the token, so the username is the issuer-prefixed sub; add --oidc-extra-scope=email to use email)');
  if (!choice.groups) say('# (no groups claim in the token; add --oidc-extra-scope=groups if the issuer has groups)');
  say('', '## For the cluster admin', '', '### kube-apiserver flags');
  say(`--oidc-issuer-url=${provider.issuerUrl}`, `--oidc-client-id=${provider.clientId}`, `--oidc-username-claim=${choice.username.claim}`);
  if (choice.username.claim !== 'email') say(`--oidc-username-prefix=${choice.username.prefix}`);
  if (choice.groups) say(`--oidc-groups-claim=${choice.groups.claim}`);
  if (provider.caFiles.length === 1 && provider.caData.length === 0) say(`--oidc-ca-file=${provider.caFiles[0]}`);
  else if (pems.length > 0) say('--oidc-ca-file=/etc/kubernetes/pki/oidc-ca.pem', '# (write the certificateAuthority PEM below to that file on every control-plane node)');
  say('# (the CA file must be readable by kube-apiserver on each control-plane node: copy it there and adjust the path)');
  const jwt: Record<string, unknown> = {
    issuer: { url: provider.issuerUrl, audiences: [provider.clientId], ...(caPem ? { certificateAuthority: caPem } : {}) },
    // kube-apiserver refuses a claim without a prefix; "" means none.
    claimMappings: { username: choice.username, ...(choice.groups ? { groups: choice.groups } : {}) },
  };
  say(
    '',
    '### Or the equivalent AuthenticationConfiguration (kube-apiserver --authentication-config=FILE, instead of the --oidc-* flags)',
    stringify({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AuthenticationConfiguration', jwt: [jwt] }).trimEnd(),
  );
  const subject = { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: username };
  const group = who.groups?.[0];
  say(
    '',
    '### A ClusterRoleBinding example (read-only access for you; or bind one of your groups)',
    stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `oidc-view-${username.replace(/[^a-z0-9.-]/gi, '-').toLowerCase()}`.slice(0, 253) },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [subject, ...(group && choice.groups ? [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: `${choice.groups.prefix}${group}` }] : [])],
    }).trimEnd(),
    '',
    '### Dex: refresh token rotation',
    '# Dex rotates refresh tokens on every use. Set a reuse interval in its config so that a refresh whose',
    '# answer was lost (a killed process, a dropped connection) does not log the user out:',
    'expiry:',
    '  refreshTokens:',
    '    reuseInterval: "3s"',
    '',
    '## For you (the user)',
    '',
    '### Add the exec user and a context to your kubeconfig (or run setup again with --write-kubeconfig)',
    [
      'kubectl config set-credentials',
      shq(name),
      `--exec-api-version=${exec.apiVersion}`,
      `--exec-command=${exec.command}`,
      ...exec.args.map((a) => `--exec-arg=${shq(a)}`),
      `--exec-interactive-mode=${exec.interactiveMode}`,
    ].join(' '),
    `kubectl config set-context ${shq(context)} --cluster=${shq(cluster ?? 'CLUSTER')} --user=${shq(name)}`,
    `# then: kubectl --context=${shq(context)} auth whoami`,
    '# kubectl-oidc must be on your PATH. Kubernetes 1.35 adds a credential plugin allow-list in kuberc',
    '# (credentialPluginPolicy): if it is set, allow kubectl-oidc there.',
  );
  io.stdout(`${out.join('\n')}\n`);

  if (values['write-kubeconfig'] === true) {
    if (!cluster) throw new OidcError('E_CONFIG', `${kubeconfig} has no current context with a cluster to add a context for`, { hint: 'run `kubectl config use-context NAME` first, or pass --kubeconfig=FILE' });
    const r = await writeUserAndContext(kubeconfig, { user: name, exec, context, cluster });
    io.stderr(
      r.changed
        ? `kubectl-oidc: added user ${name} and context ${context} to ${kubeconfig} (backup: ${r.backup}); use it with kubectl --context=${context} or kubectl config use-context ${context}\n`
        : `kubectl-oidc: ${kubeconfig} already has user ${name} and context ${context} as set up here; nothing written\n`,
    );
  }
  return 0;
}
