// A Dex-like OIDC issuer for end-to-end tests, built on oidc-provider 8.
//
// Where oidc-provider and Dex differ, this follows Dex (DESIGN.md §4): refresh tokens whenever
// offline_access is asked for, no consent page, loopback redirects on any port and path, a reused
// refresh token fails without killing the newer one.
//
// Tests can also make it misbehave the way real issuers and networks do: setFault() (errors,
// garbage, delays, cut bodies), setRefreshRefusalStyle(), setRefreshSubject(), rotateSigningKey().
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import Provider, { errors, interactionPolicy } from 'oidc-provider';
import type { Adapter, AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWK } from 'jose';
import type { TestCA } from './ca.js';
import { spkiHash } from './ca.js';

export const PUBLIC_CLIENT_ID = 'kubectl-oidc';
export const SECRET_CLIENT_ID = 'kubectl-oidc-secret';
export const CLIENT_SECRET = 'kubectl-oidc-test-secret';
/** A confidential client that may use only the client credentials grant (secret: CLIENT_SECRET). */
export const SERVICE_CLIENT_ID = 'kubectl-oidc-service';
export const DEFAULT_GROUPS = ['developers', 'kubectl-oidc:users'];
/** The one password of the `password` grant (RFC 6749 §4.3, Dex's password connector), for any login. */
export const PASSWORD_FOR_TESTS = 'rig-password-for-tests';
/** Out-of-band redirect (Dex's "authcode-keyboard" flow): the code is shown on a page, in #rig-oob-code. */
export const OOB_REDIRECT_URI = 'urn:ietf:wg:oauth:2.0:oob';
const REDIRECT_URIS = ['http://localhost:8000', 'http://localhost:18000', 'http://127.0.0.1:8000'];
const SCOPES = ['openid', 'email', 'profile', 'groups', 'offline_access'];
const CLAIMS = ['sub', 'email', 'email_verified', 'name', 'groups'];

/** Requests carrying this header (the test API server's) are left out of `stats`. */
export const RIG_INTERNAL_HEADER = 'x-test-rig';

// Dex's paths, so URLs in logs look familiar (revocation: oidc-provider's default; Dex has none).
const ROUTES = {
  authorization: '/auth',
  token: '/token',
  jwks: '/keys',
  userinfo: '/userinfo',
  device_authorization: '/device/code',
  code_verification: '/device',
  revocation: '/token/revocation',
};

export type FaultEndpoint = 'discovery' | 'jwks' | 'token' | 'revocation' | 'device';

const FAULT_ROUTES: Record<FaultEndpoint, { method: string; path: string }> = {
  discovery: { method: 'GET', path: '/.well-known/openid-configuration' },
  jwks: { method: 'GET', path: ROUTES.jwks },
  token: { method: 'POST', path: ROUTES.token },
  revocation: { method: 'POST', path: ROUTES.revocation },
  device: { method: 'POST', path: ROUTES.device_authorization },
};

/**
 * What a faulted endpoint does instead of its real answer. With `status` or `body`: that answer
 * (status default 200, body default empty, contentType default application/json when there is a
 * body). Without either: the real answer, after `delayMs` and/or cut to half its bytes (`truncate`,
 * still well framed: Content-Length is the cut length). `times`: fault only that many requests.
 * Requests carrying RIG_INTERNAL_HEADER (the test API server's) are never faulted.
 */
export interface Fault {
  status?: number;
  body?: string;
  contentType?: string;
  /** Before the issuer processes the request, or with `afterGrant` after it, before answering. */
  delayMs?: number;
  truncate?: boolean;
  times?: number;
  /**
   * Let oidc-provider process the request for real first (a refresh token is spent and rotated, a
   * code consumed, a token revoked), then answer with the fault: a client that lost the answer.
   * Without it a status/body fault means the issuer never saw the request.
   */
  afterGrant?: boolean;
}

/** How a refused refresh_token grant is answered: oidc-provider's JSON invalid_grant, or like some real issuers. */
export type RefreshRefusalStyle = 'oauth' | 'empty-400' | 'empty-401' | 'html-400';

export interface RevocationRequest {
  tokenTypeHint?: string;
  clientId?: string;
  /** The request carried client credentials (HTTP Basic, client_secret or client_assertion). */
  authenticated: boolean;
  /** What the client got back (a fault's status if faulted). */
  status: number;
}

/**
 * Requests from the product. Faulted requests count here too (in their endpoint's counter, read
 * from their own form body when the issuer never saw them) and in `faulted`; `refreshFailures`
 * counts only refusals by the issuer itself.
 */
export interface IssuerStats {
  authorizations: number;
  tokenRequests: { authorization_code: number; refresh_token: number; device_code: number; password: number; client_credentials: number; other: number };
  /** Every counted request (discovery, keys, token, device, revocation, and the browser's authorization), with its headers. */
  requests: { route: string; headers: IncomingMessage['headers'] }[];
  refreshFailures: number;
  discovery: number;
  jwks: number;
  revocations: RevocationRequest[];
  faulted: Record<FaultEndpoint, number>;
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
  /** Claims for every account, over the defaults (sub stays the login): a hostile issuer's text. */
  claims?: Record<string, unknown>;
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
  /**
   * Sign an ID token; `claims` override the defaults (undefined removes one). `key`: the current
   * signing key (default), the one before the last rotateSigningKey() ('old', served only with
   * keepOld), or one that no JWKS ever served ('foreign'). `kid`: another kid, or false for none.
   */
  mintIdToken(
    claims?: Record<string, unknown>,
    opts?: { ttl?: number; kid?: string | false; key?: 'current' | 'old' | 'foreign' },
  ): Promise<string>;
  /** Fault an endpoint until cleared with undefined (or for `fault.times` requests). */
  setFault(endpoint: FaultEndpoint, fault: Fault | undefined): void;
  setRefreshRefusalStyle(style: RefreshRefusalStyle): void;
  /** Successful refresh answers carry an ID token (validly signed) for this other subject; undefined: the real one. */
  setRefreshSubject(sub: string | undefined): void;
  /** Successful refresh answers carry a (validly signed) ID token with these claims changed (undefined: as issued). */
  setRefreshClaims(claims: Record<string, unknown> | undefined): void;
  /**
   * A new RSA key with a new kid signs every ID token from now on; /keys serves it, plus the
   * previous one with keepOld. Returns the new kid.
   */
  rotateSigningKey(opts?: { keepOld?: boolean }): string;
  close(): Promise<void>;
}

function emptyStats(): IssuerStats {
  return {
    authorizations: 0,
    tokenRequests: { authorization_code: 0, refresh_token: 0, device_code: 0, password: 0, client_credentials: 0, other: 0 },
    requests: [],
    refreshFailures: 0,
    discovery: 0,
    jwks: 0,
    revocations: [],
    faulted: { discovery: 0, jwks: 0, token: 0, revocation: 0, device: 0 },
  };
}

function grantKind(grantType: string): keyof IssuerStats['tokenRequests'] {
  if (grantType === 'urn:ietf:params:oauth:grant-type:device_code') return 'device_code';
  return grantType === 'authorization_code' || grantType === 'refresh_token' || grantType === 'password' || grantType === 'client_credentials'
    ? grantType
    : 'other';
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  /** As served at /keys. */
  publicJwk: JWK;
}

function newSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const publicJwk = { ...(createPublicKey(privateKey).export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Only to count a faulted request: a client that gave up mid-body counts with what it sent.
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    // Aborted: keep what arrived.
  }
  return Buffer.concat(chunks).toString();
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

function accountFor(login: string, groups: string[], extra: Record<string, unknown> = {}) {
  const email = login.includes('@') ? login : `${login}@example.com`;
  return {
    accountId: login,
    claims: () => ({ sub: login, email, email_verified: true, name: login, groups, ...extra }),
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

function basicUser(authorization: string): string | undefined {
  const decoded = Buffer.from(authorization.replace(/^basic\s+/i, ''), 'base64').toString();
  const user = decoded.split(':')[0];
  return user ? decodeURIComponent(user.replace(/\+/g, '%20')) : undefined;
}

function isLoopbackHttp(value: string): boolean {
  try {
    const u = new URL(value);
    // https: as a client that registered its HTTPS callback (kubelogin's --local-server-cert).
    return (u.protocol === 'http:' || u.protocol === 'https:') && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

export async function startIssuer(opts: IssuerOptions): Promise<TestIssuer> {
  const mount = (opts.path ?? '/dex').replace(/\/+$/, '');
  const groups = opts.groups ?? DEFAULT_GROUPS;
  let idTokenTtl = opts.idTokenTtl ?? 3600;
  let omitIdTokenOnRefresh = false;
  let refreshRefusalStyle: RefreshRefusalStyle = 'oauth';
  let refreshSubject: string | undefined;
  let refreshClaims: Record<string, unknown> | undefined;
  const faults = new Map<FaultEndpoint, Fault>();
  const stats = emptyStats();
  const store = new Map<string, Stored>();

  // oidc-provider's keystore is fixed at construction and signs with providerKey. After a
  // rotation the rig re-signs ID tokens in token responses with `current` and serves /keys itself.
  const providerKey = newSigningKey();
  let current = providerKey;
  let previous: SigningKey | undefined;
  let published = [providerKey];
  let foreign: SigningKey | undefined;
  const signingJwk = { ...(providerKey.privateKey.export({ format: 'jwk' }) as JWK), ...providerKey.publicJwk };

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
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
      {
        client_id: SECRET_CLIENT_ID,
        client_secret: CLIENT_SECRET,
        application_type: 'native',
        // oidc-provider accepts client_secret_post for a client_secret_basic client too.
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
      {
        client_id: SERVICE_CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      },
    ],
    jwks: { keys: [signingJwk as never] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: SCOPES,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    responseTypes: ['code'],
    routes: ROUTES,
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
      clientCredentials: { enabled: true },
    },
    interactions: { policy },
    findAccount: (_ctx, id) => accountFor(id, groups, opts.claims),
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
    // oidc-provider ignores only the port. Accept any path for native clients, like Dex, and the
    // out-of-band URN (oidc-provider would refuse to register it: no dot in its "scheme").
    return function (this: InstanceType<typeof provider.Client>, value: string) {
      return (
        original.call(this, value) ||
        (this.applicationType === 'native' && (isLoopbackHttp(value) || value === OOB_REDIRECT_URI))
      );
    };
  })();

  // RFC 6749 §4.3, as Dex's password connector: any login, one password. Static clients are
  // validated on first use, so registering after construction still lets them list 'password'.
  provider.registerGrantType(
    'password',
    async (ctx, next) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      if (!params.username || params.password !== PASSWORD_FOR_TESTS) {
        throw new errors.InvalidGrant('invalid username or password');
      }
      const client = ctx.oidc.client!;
      const scope = (params.scope ?? 'openid').split(' ').filter((s) => SCOPES.includes(s)).join(' ');
      const scopes = new Set(scope.split(' '));
      const account = (await provider.Account.findAccount(ctx, params.username))!;
      const grant = new provider.Grant({ clientId: client.clientId, accountId: account.accountId });
      grant.addOIDCScope(scope);
      grant.addOIDCClaims(CLAIMS);
      const grantId = await grant.save();
      ctx.oidc.entity('Grant', grant);
      ctx.oidc.entity('Account', account);
      const gty = 'password';
      const at = new provider.AccessToken({ accountId: account.accountId, client, grantId, gty, scope });
      const accessToken = await at.save();
      const authTime = Math.floor(Date.now() / 1000);
      let refreshToken: string | undefined;
      if (scopes.has('offline_access')) {
        const rt = new provider.RefreshToken({
          accountId: account.accountId,
          client,
          grantId,
          gty,
          scope,
          authTime,
          rotations: 0,
          expiresWithSession: false,
        });
        refreshToken = await rt.save();
      }
      let idToken: string | undefined;
      if (scopes.has('openid')) {
        const token = new provider.IdToken({ ...(await account.claims('id_token', scope, {}, [])), auth_time: authTime }, { ctx });
        (token as unknown as { scope: string; mask: object }).scope = scope;
        (token as unknown as { scope: string; mask: object }).mask = {};
        token.set('at_hash', accessToken);
        idToken = await token.issue({ use: 'idtoken' });
      }
      ctx.body = {
        access_token: accessToken,
        expires_in: at.expiration,
        id_token: idToken,
        refresh_token: refreshToken,
        scope,
        token_type: at.tokenType,
      };
      await next();
    },
    ['username', 'password', 'scope'],
  );

  const takeFault = (endpoint: FaultEndpoint): Fault | undefined => {
    const fault = faults.get(endpoint);
    if (!fault) return undefined;
    if (fault.times !== undefined) {
      const left = fault.times - 1;
      if (left <= 0) faults.delete(endpoint);
      else faults.set(endpoint, { ...fault, times: left });
    }
    stats.faulted[endpoint]++;
    return fault;
  };

  const faultEndpoint = (ctx: KoaContextWithOIDC): FaultEndpoint | undefined =>
    (Object.keys(FAULT_ROUTES) as FaultEndpoint[]).find(
      (e) => FAULT_ROUTES[e].method === ctx.method && FAULT_ROUTES[e].path === ctx.path,
    );

  const answerWith = (ctx: KoaContextWithOIDC, status: number, body: string, contentType?: string) => {
    ctx.status = status;
    ctx.body = body;
    ctx.remove('Location');
    // Exactly as given: ctx.type would add a charset.
    if (contentType) ctx.set('Content-Type', contentType);
    // An empty body with no type at all, as the servers this imitates send it.
    else ctx.remove('Content-Type');
  };

  const answerFault = (ctx: KoaContextWithOIDC, fault: Fault) => {
    const body = fault.body ?? '';
    answerWith(ctx, fault.status ?? 200, body, fault.contentType ?? (body ? 'application/json' : undefined));
  };

  // Counts one request to a stats-tracked route; `param` reads its parameters.
  const count = (route: string, param: (name: string) => unknown, headers: IncomingMessage['headers'], status: number) => {
    const str = (name: string) => {
      const v = param(name);
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    stats.requests.push({ route, headers });
    if (route === 'authorization') stats.authorizations++;
    else if (route === 'discovery') stats.discovery++;
    else if (route === 'jwks') stats.jwks++;
    else if (route === 'token') stats.tokenRequests[grantKind(str('grant_type') ?? '')]++;
    else if (route === 'revocation') {
      const basic = /^basic\s/i.test(headers.authorization ?? '');
      const entry: RevocationRequest = {
        authenticated: basic || str('client_secret') !== undefined || str('client_assertion') !== undefined,
        status,
      };
      const hint = str('token_type_hint');
      const clientId = str('client_id') ?? (basic ? basicUser(headers.authorization!) : undefined);
      if (hint) entry.tokenTypeHint = hint;
      if (clientId) entry.clientId = clientId;
      stats.revocations.push(entry);
    }
  };

  const sign = (payload: Record<string, unknown>, key: SigningKey, kid: string | false = key.kid) =>
    new SignJWT(payload)
      .setProtectedHeader(kid === false ? { alg: 'RS256', typ: 'JWT' } : { alg: 'RS256', kid, typ: 'JWT' })
      .sign(key.privateKey);

  // A successful token response: its ID token signed with the current key, for another subject
  // on refresh if asked, or gone.
  const rewriteTokenResponse = async (body: Record<string, unknown>, grantType: string) => {
    const refresh = grantType === 'refresh_token';
    if (typeof body.id_token === 'string' && (current !== providerKey || (refresh && (refreshSubject !== undefined || refreshClaims !== undefined)))) {
      const payload = decodeJwt(body.id_token) as Record<string, unknown>;
      if (refresh && refreshSubject !== undefined) payload.sub = refreshSubject;
      if (refresh && refreshClaims !== undefined) Object.assign(payload, refreshClaims);
      const { typ } = decodeProtectedHeader(body.id_token);
      body.id_token = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', kid: current.kid, ...(typ ? { typ } : {}) })
        .sign(current.privateKey);
    }
    if (refresh && omitIdTokenOnRefresh) delete body.id_token;
  };

  const restyleRefusal = (ctx: KoaContextWithOIDC) => {
    switch (refreshRefusalStyle) {
      case 'oauth':
        return;
      case 'empty-400':
        return answerWith(ctx, 400, '');
      case 'empty-401':
        return answerWith(ctx, 401, '');
      case 'html-400':
        return answerWith(ctx, 400, page('400 Bad Request', '<h1>400 Bad Request</h1>'), 'text/html; charset=utf-8');
    }
  };

  // Dex shows the code of an out-of-band login on a page; oidc-provider would redirect to the URN.
  const renderOob = (ctx: KoaContextWithOIDC) => {
    const location = ctx.response.get('Location');
    if (!location.startsWith(OOB_REDIRECT_URI) || ctx.status < 300 || ctx.status >= 400) return;
    const answer = new URL(location).searchParams;
    const code = answer.get('code');
    answerWith(
      ctx,
      200,
      code
        ? page('Login Successful', `<h2>Login Successful</h2><p>Please copy this code, switch to your application and paste it there:</p><code id="rig-oob-code">${escapeHtml(code)}</code>`)
        : page('Login Failed', `<pre id="rig-oob-error">${escapeHtml(answer.get('error') ?? 'no code')}</pre>`),
      'text/html; charset=utf-8',
    );
  };

  provider.use(async (ctx: KoaContextWithOIDC, next) => {
    const internal = ctx.get(RIG_INTERNAL_HEADER) !== '';
    const endpoint = internal ? undefined : faultEndpoint(ctx);
    const fault = endpoint && takeFault(endpoint);
    const replaces = fault !== undefined && (fault.status !== undefined || fault.body !== undefined);
    if (fault?.delayMs && !fault.afterGrant) await sleep(fault.delayMs);
    if (fault && replaces && !fault.afterGrant) {
      // The issuer never sees this request: count it from its own form body.
      const form = new URLSearchParams(ctx.method === 'POST' ? await readBody(ctx.req) : '');
      answerFault(ctx, fault);
      const route = endpoint === 'device' ? 'device_authorization' : endpoint!;
      count(route, (name) => form.get(name), ctx.req.headers, ctx.status);
      return;
    }

    await next();

    const route = ctx.oidc?.route;
    // Served for everyone (the test API server verifies tokens with it): the rig's keys.
    if (route === 'jwks' && ctx.status === 200) ctx.body = { keys: published.map((k) => k.publicJwk) };
    if (internal || !route) return;
    renderOob(ctx);
    const params = (ctx.oidc.params ?? {}) as Record<string, unknown>;
    if (route === 'token') {
      const grantType = String(params.grant_type ?? '');
      const body = ctx.body as Record<string, unknown> | undefined;
      if (ctx.status === 200 && body && typeof body === 'object') await rewriteTokenResponse(body, grantType);
      if (grantType === 'refresh_token' && ctx.status >= 400) {
        stats.refreshFailures++;
        if (body && typeof body === 'object' && body.error === 'invalid_grant') restyleRefusal(ctx);
      }
    }
    if (fault?.afterGrant && fault.delayMs) await sleep(fault.delayMs);
    if (fault && replaces) answerFault(ctx, fault);
    else if (fault?.truncate) {
      const text = typeof ctx.body === 'string' ? ctx.body : JSON.stringify(ctx.body ?? '');
      // Koa keeps the content type already set; Content-Length becomes the cut length.
      ctx.body = Buffer.from(text).subarray(0, Math.floor(Buffer.byteLength(text) / 2));
    }
    count(route, (name) => params[name], ctx.req.headers, ctx.status);
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
    setFault(endpoint, fault) {
      if (fault) faults.set(endpoint, { ...fault });
      else faults.delete(endpoint);
    },
    setRefreshRefusalStyle(style) {
      refreshRefusalStyle = style;
    },
    setRefreshClaims(claims) {
      refreshClaims = claims;
    },
    setRefreshSubject(sub) {
      refreshSubject = sub;
    },
    rotateSigningKey(rotateOpts = {}) {
      previous = current;
      current = newSigningKey();
      published = rotateOpts.keepOld ? [current, previous] : [current];
      return current.kid;
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
      const which = mintOpts.key ?? 'current';
      const key = which === 'current' ? current : which === 'old' ? previous : (foreign ??= newSigningKey());
      if (!key) throw new Error("mintIdToken: no 'old' key before rotateSigningKey()");
      return sign(payload, key, mintOpts.kid);
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
