import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { OidcError } from '../errors.js';

export interface CallbackResult {
  params: URLSearchParams;
  /** Answer the browser once the code exchange is done, so the page tells the truth; `redirect` sends it elsewhere on success. */
  respond(ok: boolean, message: string, redirect?: string): void;
}

export interface Loopback {
  port: number;
  /** 'https' with --local-server-cert/--local-server-key. */
  scheme: 'http' | 'https';
  /**
   * Resolves with the first callback whose `state` matches (and, once a login link was handed out,
   * that carries the link's cookie); every other request gets a 400. Rejects when the one-time
   * login link is opened a second time (someone else opened it first).
   */
  callback: Promise<CallbackResult>;
  /**
   * A one-time link (`<origin>/login/<random>`) that redirects to `target` once, and gives the
   * browser that opens it a random cookie (HttpOnly, SameSite=Lax, so it comes back with the
   * issuer's redirect). From then on a callback is accepted only with that cookie: a code that
   * another person's browser delivers is refused, even with the right `state`. `origin` is the
   * redirect URI's (the cookie must be set on the host the issuer sends the browser back to);
   * by default the listener's address.
   */
  oneTimeUrl(target: string, origin?: string): string;
  close(): void;
}

export interface LoopbackOptions {
  /**
   * The redirect URI names `localhost`, which the browser may resolve to 127.0.0.1 or ::1: listen
   * on both (same port), so that no other local user can take the address we left free and receive
   * the authorization code. A port whose other address is taken is skipped like a busy one.
   */
  bothLoopbacks?: boolean;
  /** Serve the callback over HTTPS (kubelogin's --local-server-cert/--local-server-key): PEM file paths. */
  tls?: { cert: string; key: string };
  /** Told (once) when a callback with the right state came from a browser that did not open the login link. */
  onForeignCallback?: () => void;
}

export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new OidcError('E_USAGE', `--listen-address ${address} is not HOST:PORT`, { hint: 'for example --listen-address=127.0.0.1:8000' });
  return { host: (m[1] ?? m[2]) as string, port };
}

const LOOPBACK_PAIR: Record<string, string> = { '127.0.0.1': '::1', '::1': '127.0.0.1' };
/** With port 0, tries for a port that is free on both loopback addresses. */
const PAIR_ATTEMPTS = 5;

function listenOn(host: string, port: number, creds?: { cert: Buffer; key: Buffer }): Promise<Server> {
  const server: Server = creds ? createHttpsServer(creds) : createServer();
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** Bind the first free address of the list (kubelogin's default: 127.0.0.1:8000, then 127.0.0.1:18000). */
export async function startLoopback(addresses: readonly string[], expectedState: string, opts: LoopbackOptions = {}): Promise<Loopback> {
  let lastError: unknown;
  let creds: { cert: Buffer; key: Buffer } | undefined;
  if (opts.tls) {
    try {
      creds = { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) };
    } catch (cause) {
      throw new OidcError('E_CONFIG', `cannot read --local-server-cert/--local-server-key: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
  }
  const scheme = creds ? 'https' : 'http';
  for (const address of addresses) {
    const { host, port } = parseListenAddress(address);
    const pair = opts.bothLoopbacks ? LOOPBACK_PAIR[host] : undefined;
    for (let attempt = 0; attempt < (pair && port === 0 ? PAIR_ATTEMPTS : 1); attempt++) {
      let first: Server;
      try {
        first = await listenOn(host, port, creds);
      } catch (err) {
        lastError = err;
        break;
      }
      if (!pair) return serve([first], host, expectedState, scheme, opts.onForeignCallback);
      const bound = (first.address() as AddressInfo).port;
      try {
        return serve([first, await listenOn(pair, bound, creds)], host, expectedState, scheme, opts.onForeignCallback);
      } catch (err) {
        // No IPv6 (or IPv4) on this machine: nobody can take that address either.
        if (['EADDRNOTAVAIL', 'EAFNOSUPPORT'].includes((err as NodeJS.ErrnoException).code ?? '')) return serve([first], host, expectedState, scheme, opts.onForeignCallback);
        first.close();
        lastError = err;
      }
    }
  }
  throw new OidcError('E_CONFIG', `cannot listen for the login callback on ${addresses.join(' or ')}: ${(lastError as NodeJS.ErrnoException)?.code ?? lastError}`, {
    cause: lastError,
    hint: 'another login may be running; or pick a free port with --listen-address=127.0.0.1:0 (the issuer must accept any loopback port)',
  });
}

function serve(servers: Server[], host: string, expectedState: string, scheme: 'http' | 'https', onForeignCallback?: () => void): Loopback {
  let settle!: (r: CallbackResult) => void;
  let fail!: (e: Error) => void;
  const callback = new Promise<CallbackResult>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  callback.catch(() => {}); // the caller may be gone already; it sees the rejection when it awaits
  let done = false;
  const loginPath = `/login/${randomBytes(24).toString('base64url')}`;
  let loginTarget: string | undefined;
  let loginUsed = false;
  const port = (servers[0]!.address() as AddressInfo).port;
  // Cookies are per host, not per port: the port in the name keeps two logins at once apart.
  const cookieName = `kubectl-oidc-login-${port}`;
  const cookieValue = randomBytes(32).toString('base64url');
  let foreignSeen = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === loginPath && loginTarget !== undefined) {
      if (!loginUsed) {
        loginUsed = true;
        const cookie = `${cookieName}=${cookieValue}; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600${scheme === 'https' ? '; Secure' : ''}`;
        res.writeHead(302, { location: loginTarget, 'set-cookie': cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', connection: 'close' });
        res.end();
        return;
      }
      // Opened twice: someone else may have opened it first (and holds the cookie). End this login
      // rather than accept a callback that may be theirs.
      page(res, 400, 'This login link was already used', 'Start the login again from your terminal.');
      if (!done) {
        done = true;
        fail(new OidcError('E_LOGIN_FAILED', 'the one-time login link was opened twice (someone else may have opened it first)', { hint: 'run the command again; if a browser opened where you cannot see it, pass --skip-open-browser and open the link yourself' }));
      }
      return;
    }
    const params = url.searchParams;
    if (done || req.method !== 'GET' || params.get('state') !== expectedState) {
      page(res, 400, 'This is not the login you are waiting for', 'Start the login again from your terminal.');
      return;
    }
    if (loginTarget !== undefined && !hasCookie(req, cookieName, cookieValue)) {
      // The right state from a browser that did not open the login link: another person's browser
      // (who learnt the state) delivering their own code. Refused; the real browser may still come.
      page(res, 400, 'This browser did not start this login', 'Open the login link from your terminal in this browser, or start the login again.');
      if (!foreignSeen) {
        foreignSeen = true;
        onForeignCallback?.();
      }
      return;
    }
    done = true;
    settle({
      params,
      respond(ok, message, redirect) {
        // The cookie has done its job: clear it.
        const clear = `${cookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${scheme === 'https' ? '; Secure' : ''}`;
        if (ok && redirect) {
          res.writeHead(302, { location: redirect, 'set-cookie': clear, 'cache-control': 'no-store', connection: 'close' }).end();
          return;
        }
        res.setHeader('set-cookie', clear);
        page(res, ok ? 200 : 400, ok ? 'Logged in' : 'Login failed', message);
      },
    });
  };
  for (const server of servers) {
    server.on('request', onRequest);
    server.keepAliveTimeout = 1_000;
    // A request that trickles in (or never ends) must not hold the listener: Node's defaults are minutes.
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
  }
  return {
    port,
    scheme,
    callback,
    oneTimeUrl(target, origin) {
      loginTarget = target;
      const o = origin === undefined ? undefined : URL.canParse(origin) ? new URL(origin) : undefined;
      if (o && (o.protocol === 'http:' || o.protocol === 'https:')) return `${o.origin}${loginPath}`;
      const linkHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      return `${scheme}://${linkHost.includes(':') ? `[${linkHost}]` : linkHost}:${port}${loginPath}`;
    },
    close() {
      for (const server of servers) {
        server.close();
        server.closeAllConnections?.();
      }
    },
  };
}

/** Does the request carry cookie `name` with `value`? (Any one of several cookies of that name.) */
function hasCookie(req: IncomingMessage, name: string, value: string): boolean {
  const want = Buffer.from(value);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const got = Buffer.from(part.slice(eq + 1).trim());
    if (got.length === want.length && timingSafeEqual(got, want)) return true;
  }
  return false;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>kubectl-oidc: ${escape(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.4em}</style></head>
<body><h1>${escape(title)}</h1><p>${escape(message)}</p></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
  res.end(body);
}
