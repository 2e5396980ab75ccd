import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
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
  /** Resolves with the first callback whose `state` matches; every other request gets a 400. */
  callback: Promise<CallbackResult>;
  close(): void;
}

export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new OidcError('E_USAGE', `--listen-address ${address} is not HOST:PORT`, { hint: 'for example --listen-address=127.0.0.1:8000' });
  return { host: (m[1] ?? m[2]) as string, port };
}

/** Bind the first free address of the list (kubelogin's default: 127.0.0.1:8000, then 127.0.0.1:18000). */
export async function startLoopback(addresses: readonly string[], expectedState: string, tls?: { cert: string; key: string }): Promise<Loopback> {
  let lastError: unknown;
  let creds: { cert: Buffer; key: Buffer } | undefined;
  if (tls) {
    try {
      creds = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    } catch (cause) {
      throw new OidcError('E_CONFIG', `cannot read --local-server-cert/--local-server-key: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
  }
  for (const address of addresses) {
    const { host, port } = parseListenAddress(address);
    const server: Server = creds ? createHttpsServer(creds) : createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port, exclusive: true }, () => resolve());
      });
    } catch (err) {
      lastError = err;
      continue;
    }
    return serve(server, expectedState, creds ? 'https' : 'http');
  }
  throw new OidcError('E_CONFIG', `cannot listen for the login callback on ${addresses.join(' or ')}: ${(lastError as NodeJS.ErrnoException)?.code ?? lastError}`, {
    cause: lastError,
    hint: 'another login may be running; or pick a free port with --listen-address=127.0.0.1:0 (the issuer must accept any loopback port)',
  });
}

function serve(server: Server, expectedState: string, scheme: 'http' | 'https'): Loopback {
  let settle!: (r: CallbackResult) => void;
  const callback = new Promise<CallbackResult>((resolve) => (settle = resolve));
  let done = false;
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = url.searchParams;
    if (done || req.method !== 'GET' || params.get('state') !== expectedState) {
      page(res, 400, 'This is not the login you are waiting for', 'Start the login again from your terminal.');
      return;
    }
    done = true;
    settle({
      params,
      respond(ok, message, redirect) {
        if (ok && redirect) {
          res.writeHead(302, { location: redirect, 'cache-control': 'no-store', connection: 'close' }).end();
          return;
        }
        page(res, ok ? 200 : 400, ok ? 'Logged in' : 'Login failed', message);
      },
    });
  });
  server.keepAliveTimeout = 1_000;
  return {
    port: (server.address() as AddressInfo).port,
    scheme,
    callback,
    close() {
      server.close();
      server.closeAllConnections?.();
    },
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>kubectl-oidc: ${escape(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}h1{font-size:1.4em}</style></head>
<body><h1>${escape(title)}</h1><p>${escape(message)}</p></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
  res.end(body);
}
