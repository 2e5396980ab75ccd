// A stand-in kube-apiserver: checks bearer tokens the way its OIDC authenticator does
// (DESIGN.md §3) and serves just enough of the API for `kubectl auth whoami`, `kubectl get ns`
// and `kubectl get --raw`. Plus helpers to write a kubeconfig and run the real kubectl.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import type { TestCA } from './ca.js';
import { RIG_INTERNAL_HEADER } from './issuer.js';

export interface ApiServerOptions {
  issuerUrl: string;
  clientId: string;
  /** CA the API server trusts for the issuer (--oidc-ca-file). */
  issuerCaPem: string;
  /** CA that signs the API server's own serving certificate. */
  ca: TestCA;
  /** --oidc-username-claim; any claim but email gets the `<issuer>#` prefix. Default 'email'. */
  usernameClaim?: string;
  /** --oidc-username-prefix (or claimMappings.username.prefix); '-' means none. Default: kube-apiserver's (none for email, `<issuer>#` otherwise). */
  usernamePrefix?: string;
  /** --oidc-groups-claim. Default 'groups'. */
  groupsClaim?: string;
  /** --oidc-groups-prefix. Default none. */
  groupsPrefix?: string;
}

export interface ApiRequest {
  method: string;
  path: string;
  user?: string;
  status: number;
}

export interface TestApiServer {
  url: string;
  /** The API server's serving CA, for the kubeconfig's certificate-authority-data. */
  caPem: string;
  requests: ApiRequest[];
  /** Requests answered 401. */
  readonly unauthorized: number;
  /** Why the last rejected token was rejected (for test failure messages). */
  readonly lastRejection: string | undefined;
  resetRequests(): void;
  close(): Promise<void>;
}

interface UserInfo {
  username: string;
  groups: string[];
}

const VERSION = {
  major: '1',
  // kubectl here is the gcloud dispatcher: another minor makes it re-exec a matching kubectl.
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T00:00:00Z',
  goVersion: 'go1.23.8',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const CREATED = '2025-01-01T00:00:00Z';
const NAMESPACE = {
  kind: 'Namespace',
  apiVersion: 'v1',
  metadata: { name: 'default', uid: '6f1f1b5e-0000-4000-8000-000000000001', resourceVersion: '1', creationTimestamp: CREATED },
  spec: { finalizers: ['kubernetes'] },
  status: { phase: 'Active' },
};

const AUTHN_GROUP = {
  name: 'authentication.k8s.io',
  versions: [{ groupVersion: 'authentication.k8s.io/v1', version: 'v1' }],
  preferredVersion: { groupVersion: 'authentication.k8s.io/v1', version: 'v1' },
};

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

// kubectl get asks for server-side printing (as=Table); kube-apiserver honours that.
function namespaceTable() {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: '1' },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
      { name: 'Status', type: 'string', format: '', description: 'Phase', priority: 0 },
      { name: 'Age', type: 'string', format: '', description: 'Age', priority: 0 },
    ],
    rows: [
      {
        cells: ['default', 'Active', '1y'],
        object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: NAMESPACE.metadata },
      },
    ],
  };
}

export async function startApiServer(opts: ApiServerOptions): Promise<TestApiServer> {
  const usernameClaim = opts.usernameClaim ?? 'email';
  const groupsClaim = opts.groupsClaim ?? 'groups';
  const issuerAgent = new Agent({ connect: { ca: opts.issuerCaPem } });
  const issuerFetch = (url: string | URL, init: Record<string, unknown> = {}) =>
    undiciFetch(url, {
      ...init,
      dispatcher: issuerAgent,
      // Keeps the issuer's stats about the product's requests only.
      headers: { ...(init.headers as Record<string, string> | undefined), [RIG_INTERNAL_HEADER]: 'apiserver' },
    });

  // Like kube-apiserver, discover the issuer lazily and retry until it works.
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function keySet() {
    if (jwks) return jwks;
    const res = await issuerFetch(`${opts.issuerUrl}/.well-known/openid-configuration`);
    if (!res.ok) throw new Error(`issuer discovery: HTTP ${res.status}`);
    const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (doc.issuer !== opts.issuerUrl) throw new Error(`issuer discovery: issuer ${String(doc.issuer)} is not ${opts.issuerUrl}`);
    if (typeof doc.jwks_uri !== 'string') throw new Error('issuer discovery: no jwks_uri');
    jwks = createRemoteJWKSet(new URL(doc.jwks_uri), {
      // Refetch at once on an unknown kid (a restarted issuer has a new key), as go-oidc does.
      cooldownDuration: 0,
      [customFetch]: (url: string, init: Record<string, unknown>) =>
        issuerFetch(url, init) as unknown as Promise<Response>,
    });
    return jwks;
  }

  async function authenticate(req: IncomingMessage): Promise<UserInfo> {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new Error('no bearer token');
    const { payload } = await jwtVerify(match[1], await keySet(), {
      issuer: opts.issuerUrl,
      audience: opts.clientId,
      algorithms: ['RS256'],
      requiredClaims: ['exp'],
    });
    return userFrom(payload);
  }

  function userFrom(payload: JWTPayload): UserInfo {
    const raw = payload[usernameClaim];
    if (typeof raw !== 'string' || raw === '') throw new Error(`claim ${usernameClaim} missing or not a string`);
    if (usernameClaim === 'email' && 'email_verified' in payload && payload.email_verified !== true) {
      throw new Error('email not verified');
    }
    const prefix = opts.usernamePrefix === undefined ? (usernameClaim === 'email' ? '' : `${opts.issuerUrl}#`) : opts.usernamePrefix === '-' ? '' : opts.usernamePrefix;
    const username = `${prefix}${raw}`;
    const claimed = payload[groupsClaim];
    const list = typeof claimed === 'string' ? [claimed] : Array.isArray(claimed) ? claimed.map(String) : [];
    const groups = [...list.map((g) => `${opts.groupsPrefix ?? ''}${g}`), 'system:authenticated'];
    return { username, groups };
  }

  const requests: ApiRequest[] = [];
  const state = { unauthorized: 0, lastRejection: undefined as string | undefined };
  const { certPem, keyPem } = opts.ca.issue();

  const server = createServer({ cert: certPem, key: keyPem }, (req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://x');
    const entry: ApiRequest = { method, path: url.pathname, status: 0 };
    requests.push(entry);
    const send = (code: number, body: unknown) => {
      entry.status = code;
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    // kubectl sends protobuf bodies; nothing here needs them, but they must be drained.
    req.resume();

    let user: UserInfo;
    try {
      user = await authenticate(req);
    } catch (e) {
      state.unauthorized++;
      state.lastRejection = (e as Error).message;
      send(401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    entry.user = user.username;

    const port = (server.address() as AddressInfo).port;
    const wantsTable = (req.headers.accept ?? '').includes('as=Table');
    switch (`${method} ${url.pathname.replace(/\/+$/, '') || '/'}`) {
      case 'GET /version':
        return send(200, VERSION);
      case 'GET /api':
        return send(200, {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }],
        });
      case 'GET /apis':
        return send(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [AUTHN_GROUP] });
      case 'GET /api/v1':
        return send(200, {
          kind: 'APIResourceList',
          groupVersion: 'v1',
          resources: [
            {
              name: 'namespaces',
              singularName: 'namespace',
              namespaced: false,
              kind: 'Namespace',
              verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
              shortNames: ['ns'],
            },
          ],
        });
      case 'GET /apis/authentication.k8s.io':
        return send(200, { kind: 'APIGroup', apiVersion: 'v1', ...AUTHN_GROUP });
      case 'GET /apis/authentication.k8s.io/v1':
        return send(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: 'authentication.k8s.io/v1',
          resources: [
            { name: 'selfsubjectreviews', singularName: 'selfsubjectreview', namespaced: false, kind: 'SelfSubjectReview', verbs: ['create'] },
          ],
        });
      case 'GET /api/v1/namespaces':
        return send(
          200,
          wantsTable
            ? namespaceTable()
            : { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [NAMESPACE] },
        );
      case 'GET /api/v1/namespaces/default':
        return send(200, NAMESPACE);
      case 'POST /apis/authentication.k8s.io/v1/selfsubjectreviews':
        return send(201, {
          kind: 'SelfSubjectReview',
          apiVersion: 'authentication.k8s.io/v1',
          metadata: { creationTimestamp: null },
          status: { userInfo: { username: user.username, groups: user.groups } },
        });
      default:
        return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `https://127.0.0.1:${port}`,
    caPem: opts.ca.caPem,
    requests,
    get unauthorized() {
      return state.unauthorized;
    },
    get lastRejection() {
      return state.lastRejection;
    },
    resetRequests() {
      requests.length = 0;
      state.unauthorized = 0;
      state.lastRejection = undefined;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await issuerAgent.close();
    },
  };
}

// ---- kubeconfig and kubectl -------------------------------------------------

export interface ExecUser {
  command: string;
  args: string[];
  env?: { name: string; value: string }[];
  apiVersion?: 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1';
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
  provideClusterInfo?: boolean;
}

export interface KubeconfigOptions {
  path: string;
  server: string;
  caPem: string;
  user: { token: string } | { exec: ExecUser };
  /** Goes into the cluster extension client.authentication.k8s.io/exec (spec.cluster.config). */
  clusterExtensionConfig?: unknown;
}

/** Writes a kubeconfig (JSON, which is YAML) with one cluster/user/context named `test`, mode 0600. */
export async function writeKubeconfig(opts: KubeconfigOptions): Promise<string> {
  const cluster: Record<string, unknown> = {
    server: opts.server,
    'certificate-authority-data': Buffer.from(opts.caPem).toString('base64'),
  };
  if (opts.clusterExtensionConfig !== undefined) {
    cluster.extensions = [{ name: 'client.authentication.k8s.io/exec', extension: opts.clusterExtensionConfig }];
  }
  const user =
    'token' in opts.user
      ? { token: opts.user.token }
      : {
          exec: {
            apiVersion: opts.user.exec.apiVersion ?? 'client.authentication.k8s.io/v1',
            command: opts.user.exec.command,
            args: opts.user.exec.args,
            env: opts.user.exec.env ?? null,
            // client.authentication.k8s.io/v1 requires the field.
            interactiveMode: opts.user.exec.interactiveMode ?? 'IfAvailable',
            provideClusterInfo: opts.user.exec.provideClusterInfo ?? false,
          },
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster }],
    users: [{ name: 'test', user }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
    'current-context': 'test',
    preferences: {},
  };
  await writeFile(opts.path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(opts.path, 0o600);
  return opts.path;
}

export interface KubectlResult {
  /** Exit code; null when killed (see timedOut). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface KubectlOptions {
  kubeconfig: string;
  /** Added to the environment; HOME and KUBECACHEDIR default to a fresh temp dir per run. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** kubectl binary. Default: $KUBECTL or /usr/bin/kubectl. */
  kubectl?: string;
  /** Written to stdin (otherwise stdin is closed; the exec plugin then sees interactive: false). */
  input?: string;
}

export async function runKubectl(args: string[], opts: KubectlOptions): Promise<KubectlResult> {
  // A fresh cache dir per run: kubectl's discovery cache must not carry over between tests.
  const scratch = await mkdtemp(join(tmpdir(), 'rig-kubectl-'));
  const env: Record<string, string | undefined> = {
    ...process.env,
    HOME: scratch,
    KUBECACHEDIR: join(scratch, 'cache'),
    KUBECONFIG: undefined,
    ...opts.env,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const bin = opts.kubectl ?? process.env.KUBECTL ?? '/usr/bin/kubectl';
  const child = spawn(bin, ['--kubeconfig', opts.kubeconfig, ...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  await rm(scratch, { recursive: true, force: true });
  return { code, stdout, stderr, timedOut };
}
