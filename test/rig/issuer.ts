// A Dex-like OIDC issuer for end-to-end tests, built on oidc-provider 8.
//
// Where oidc-provider and Dex differ, this follows Dex (DESIGN.md §4): refresh tokens whenever
// offline_access is asked for, no consent page, loopback redirects on any port and path, a reused
// refresh token fails without killing the newer one.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Provider, { interactionPolicy } from 'oidc-provider';
import type { Adapter, AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { SignJWT, importJWK } from 'jose';
import type { JWK } from 'jose';
import type { TestCA } from './ca.js';
import { spkiHash } from './ca.js';

export const PUBLIC_CLIENT_ID = 'kubectl-oidc';
export const SECRET_CLIENT_ID = 'kubectl-oidc-secret';
export const CLIENT_SECRET = 'kubectl-oidc-test-secret';
export const DEFAULT_GROUPS = ['developers', 'kubectl-oidc:users'];
const REDIRECT_URIS = ['http://localhost:8000', 'http://localhost:18000', 'http://127.0.0.1:8000'];
const SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access'];
const CLAIMS = ['sub', 'email', 'email_verified', 'name', 'groups'];

/** Requests carrying this header (the test API server's) are left out of `stats`. */
export const RIG_INTERNAL_HEADER = 'x-test-rig';

export interface IssuerStats {
  authorizations: number;
  tokenRequests: { authorization_code: number; refresh_token: number; device_code: number; other: number };
  refreshFailures: number;
  discovery: number;
  jwks: number;
}

export interface IssuerOptions {
  ca: TestCA;
  /** Mount path, Dex style. Default '/dex'. */
  path?: string;
  /** ID (and access) token lifetime in seconds. Default 3600. */
  idTokenTtl?: number;
  /** Show oidc-provider's consent page on every login instead of auto-consent. */
  consentPage?: boolean;
  /** oidc-provider's own behaviour on refresh token reuse: revoke the whole grant. Default false (Dex). */
  reuseRevokesGrant?: boolean;
  groups?: string[];
  /** Listen on this port (e.g. to restart an issuer at the same URL). Default: a free one. */
  port?: number;
}

export interface TestIssuer {
  /** The issuer identifier, e.g. https://127.0.0.1:PORT/dex (no trailing slash). */
  url: string;
  port: number;
  certPem: string;
  /** For browser.js --spki: Chromium then accepts this server's certificate. */
  spki: string;
  stats: IssuerStats;
  resetStats(): void;
  setIdTokenTtl(seconds: number): void;
  setOmitIdTokenOnRefresh(omit: boolean): void;
  /** Forget every grant, session and token: all refresh tokens are invalid afterwards. */
  revokeAll(): void;
  /** Sign an ID token with the issuer's key; `claims` override the defaults (undefined removes one). */
  mintIdToken(claims?: Record<string, unknown>, opts?: { ttl?: number }): Promise<string>;
  close(): Promise<void>;
}

function emptyStats(): IssuerStats {
  return {
    authorizations: 0,
    tokenRequests: { authorization_code: 0, refresh_token: 0, device_code: 0, other: 0 },
    refreshFailures: 0,
    discovery: 0,
    jwks: 0,
  };
}

interface Stored {
  payload: AdapterPayload;
  expiresAt: number;
}

// One store per issuer, so revokeAll() can simply clear it.
function memoryAdapter(store: Map<string, Stored>, reuseRevokesGrant: () => boolean) {
  return class MemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string) {
      return `${this.model}:${id}`;
    }

    private live(key: string): AdapterPayload | undefined {
      const entry = store.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        store.delete(key);
        return undefined;
      }
      return entry.payload;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      store.set(this.key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    }

    async find(id: string) {
      const payload = this.live(this.key(id));
      // oidc-provider revokes the whole grant when a rotated refresh token comes back; Dex only
      // refuses that one request ("refresh token claimed twice"). Looking consumed tokens up as
      // missing gives Dex's behaviour: invalid_grant, and the newest token keeps working.
      if (payload?.consumed && this.model === 'RefreshToken' && !reuseRevokesGrant()) return undefined;
      return payload;
    }

    async findByUid(uid: string) {
      for (const key of store.keys()) {
        if (!key.startsWith(`${this.model}:`)) continue;
        const payload = this.live(key);
        if (payload?.uid === uid) return payload;
      }
      return undefined;
    }

    async findByUserCode(userCode: string) {
      for (const key of store.keys()) {
        if (!key.startsWith(`${this.model}:`)) continue;
        const payload = this.live(key);
        if (payload?.userCode === userCode) return payload;
      }
      return undefined;
    }

    async consume(id: string) {
      const payload = this.live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string) {
      for (const [key, { payload }] of store) if (payload.grantId === grantId) store.delete(key);
    }
  };
}

function accountFor(login: string, groups: string[]) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  return {
    accountId: login,
    claims: () => ({ sub: login, email, email_verified: true, name: login, groups }),
  };
}

const page = (title: string, body: string) =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const escapeHtml = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// oidc-provider prints notices through console.warn/info while it is being constructed
// (devInteractions is development-only, etc.): tests show stderr, so keep them out.
function quietly<T>(fn: () => T): T {
  const { warn, info } = console;
  const filter =
    (orig: (...a: unknown[]) => void) =>
    (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
      orig(...args);
    };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    return fn();
  } finally {
    console.warn = warn;
    console.info = info;
  }
}

function isLoopbackHttp(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

export async function startIssuer(opts: IssuerOptions): Promise<TestIssuer> {
  const mount = (opts.path ?? '/dex').replace(/\/+$/, '');
  const groups = opts.groups ?? DEFAULT_GROUPS;
  let idTokenTtl = opts.idTokenTtl ?? 3600;
  let omitIdTokenOnRefresh = false;
  const stats = emptyStats();
  const store = new Map<string, Stored>();

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const signingJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' };

  const { certPem, keyPem } = opts.ca.issue();
  const server: Server = createServer({ cert: certPem, key: keyPem });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}${mount}`;

  const policy = interactionPolicy.base();
  if (!opts.consentPage) {
    // Native clients otherwise always get a consent page; Dex users never see one.
    policy.get('consent')?.checks.remove('native_client_prompt');
    policy.get('consent')?.checks.remove('consent_prompt');
  }

  const configuration: Configuration = {
    adapter: memoryAdapter(store, () => opts.reuseRevokesGrant === true),
    clients: [
      {
        client_id: PUBLIC_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
      {
        client_id: SECRET_CLIENT_ID,
        client_secret: CLIENT_SECRET,
        application_type: 'native',
        // oidc-provider accepts client_secret_post for a client_secret_basic client too.
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
    ],
    jwks: { keys: [signingJwk as never] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: SCOPES,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    responseTypes: ['code'],
    routes: {
      // Dex's paths, so URLs in logs look familiar.
      authorization: '/auth',
      token: '/token',
      jwks: '/keys',
      userinfo: '/userinfo',
      device_authorization: '/device/code',
      code_verification: '/device',
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, _out, err) => {
          const msg = err ? `<p id="rig-device-error">${escapeHtml(err.name)}</p>` : '';
          ctx.body = page('Device sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource: (ctx, form, _client, _info, userCode) => {
          ctx.body = page(
            'Confirm device',
            `<p id="rig-device-confirm">Code <code>${escapeHtml(userCode)}</code></p>${form}` +
              '<button id="rig-device-continue" type="submit" form="op.deviceConfirmForm">Continue</button>' +
              '<button id="rig-device-abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">[ Abort ]</button>',
          );
        },
        successSource: (ctx) => {
          ctx.body = page('Sign-in success', '<h1 id="rig-device-success">Sign-in success</h1>');
        },
      },
      revocation: { enabled: true },
    },
    interactions: { policy },
    findAccount: (_ctx, id) => accountFor(id, groups),
    // Auto-consent: the signed-in user has granted everything we offer (Dex's skipApprovalScreen).
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(oidc.client!.clientId);
      const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (opts.consentPage) return existing;
      const grant =
        existing ?? new oidc.provider.Grant({ clientId: oidc.client!.clientId, accountId: oidc.session!.accountId! });
      grant.addOIDCScope(SCOPES.join(' '));
      grant.addOIDCClaims(CLAIMS);
      await grant.save();
      return grant;
    },
    issueRefreshToken: (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    expiresWithSession: () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => idTokenTtl,
      IdToken: () => idTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => true,
    renderError: (ctx, out) => {
      // The browser driver reads #rig-error to fail fast with the issuer's message.
      const text = Object.entries(out)
        .filter(([k]) => k !== 'state')
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join('; ');
      ctx.type = 'html';
      ctx.body = page('Error', `<pre id="rig-error">${escapeHtml(text)}</pre>`);
    },
  };

  const provider = quietly(() => new Provider(url, configuration));
  (provider.Client.prototype as { redirectUriAllowed(v: string): boolean }).redirectUriAllowed = (() => {
    const original = provider.Client.prototype.redirectUriAllowed;
    // Dex accepts http://localhost or 127.0.0.1 on any port and path for public clients;
    // oidc-provider ignores only the port. Accept any path for native clients, like Dex.
    return function (this: InstanceType<typeof provider.Client>, value: string) {
      return original.call(this, value) || (this.applicationType === 'native' && isLoopbackHttp(value));
    };
  })();

  provider.use(async (ctx: KoaContextWithOIDC, next) => {
    const internal = ctx.get(RIG_INTERNAL_HEADER) !== '';
    await next();
    const route = ctx.oidc?.route;
    if (internal || !route) return;
    if (route === 'authorization') stats.authorizations++;
    else if (route === 'discovery') stats.discovery++;
    else if (route === 'jwks') stats.jwks++;
    else if (route === 'token') {
      const grantType = String(ctx.oidc.params?.grant_type ?? '');
      const kind =
        grantType === 'authorization_code' || grantType === 'refresh_token'
          ? grantType
          : grantType === 'urn:ietf:params:oauth:grant-type:device_code'
            ? 'device_code'
            : 'other';
      stats.tokenRequests[kind]++;
      if (kind === 'refresh_token') {
        if (ctx.status >= 400) stats.refreshFailures++;
        else if (omitIdTokenOnRefresh && ctx.body && typeof ctx.body === 'object') {
          delete (ctx.body as Record<string, unknown>).id_token;
        }
      }
    }
  });

  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    if (raw !== mount && !raw.startsWith(`${mount}/`) && !raw.startsWith(`${mount}?`)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const inner = new URL(raw.slice(mount.length) || '/', 'http://x');
    // oidc-provider drops offline_access unless prompt includes consent (OIDC Core 11); Dex
    // does not. Adding the prompt here, with the consent_prompt check removed above, keeps the
    // scope without showing a page.
    if (inner.pathname === '/auth') {
      const scope = inner.searchParams.get('scope')?.split(' ') ?? [];
      const prompt = inner.searchParams.get('prompt')?.split(' ').filter(Boolean) ?? [];
      if (scope.includes('offline_access') && !prompt.includes('consent') && !prompt.includes('none')) {
        inner.searchParams.set('prompt', [...prompt, 'consent'].join(' '));
      }
    }
    req.url = inner.pathname + inner.search;
    // oidc-provider derives its mount path from originalUrl (as under express).
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = mount + req.url;
    void callback(req, res);
  });

  const signingKey = await importJWK(signingJwk, 'RS256');

  return {
    url,
    port,
    certPem,
    spki: spkiHash(certPem),
    stats,
    resetStats() {
      Object.assign(stats, emptyStats());
    },
    setIdTokenTtl(seconds) {
      idTokenTtl = seconds;
    },
    setOmitIdTokenOnRefresh(omit) {
      omitIdTokenOnRefresh = omit;
    },
    revokeAll() {
      store.clear();
    },
    async mintIdToken(claims = {}, mintOpts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: url,
        aud: PUBLIC_CLIENT_ID,
        sub: 'alice',
        email: 'alice@example.com',
        email_verified: true,
        name: 'alice',
        groups,
        iat: now,
        exp: now + (mintOpts.ttl ?? idTokenTtl),
        ...claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(signingKey);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type GarbageKind = 'html' | 'bad-json' | 'wrong-issuer' | 'error-500';

/**
 * An HTTPS server whose discovery document is unusable. Its `url` is an issuer URL
 * (https://127.0.0.1:PORT/dex) whose /.well-known/openid-configuration serves the garbage.
 */
export async function startGarbageIssuer(
  ca: TestCA,
  kind: GarbageKind = 'html',
): Promise<{ url: string; spki: string; requests: number; close(): Promise<void> }> {
  const { certPem, keyPem } = ca.issue();
  const state = { requests: 0 };
  const server = createServer({ cert: certPem, key: keyPem }, (_req, res) => {
    state.requests++;
    switch (kind) {
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Welcome to nginx!</body></html>');
        break;
      case 'bad-json':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer": 5}');
        break;
      case 'wrong-issuer':
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer: 'https://issuer.invalid/dex',
            authorization_endpoint: 'https://issuer.invalid/dex/auth',
            token_endpoint: 'https://issuer.invalid/dex/token',
            jwks_uri: 'https://issuer.invalid/dex/keys',
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
          }),
        );
        break;
      case 'error-500':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
        break;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/dex`,
    spki: spkiHash(certPem),
    get requests() {
      return state.requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An https issuer URL on 127.0.0.1 whose port was free a moment ago (connection refused). */
export async function closedPortUrl(): Promise<string> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `https://127.0.0.1:${port}/dex`;
}
