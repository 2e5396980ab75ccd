/**
 * Runs token-store operations in a process of its own, so each test can give it its own
 * DBUS_SESSION_BUS_ADDRESS (the keyring library reads it once per process). Usage:
 *   node keyring-cli.js '<json Script>'
 * Prints one JSON line: a Report. Always exits 0 and explicitly: a keyring call still stuck in
 * the threadpool would otherwise keep the process alive.
 */
import { readFile } from 'node:fs/promises';
import { isOidcError } from '../../lib/errors.js';
import { createFileStore } from '../../lib/store/file.js';
import { createKeyringStore, probeKeyring } from '../../lib/store/keyring.js';
import { openStore, type StorageSetting } from '../../lib/store/select.js';
import type { TokenSet, TokenStore } from '../../lib/store/types.js';

export interface Script {
  /** `open:<setting>` goes through openStore; `keyring` and `file` are the bare stores. */
  store: `open:${StorageSetting}` | 'keyring' | 'file';
  cacheDir: string;
  timeoutMs?: number;
  ops: Op[];
}

export type Op =
  | { op: 'save'; key: string; tokens: TokenSet }
  | { op: 'load'; key: string }
  | { op: 'delete'; key: string }
  | { op: 'probe' }
  /** Writes a raw value under the store's service and `key` (to plant a corrupt item). */
  | { op: 'setRaw'; key: string; value: string }
  /** Lists this service's items (not for a hung keyring: the library's search never times out). */
  | { op: 'list'; service?: string }
  /** A threadpool-backed fs call, to show a stuck keyring call does not starve file I/O. */
  | { op: 'fsread' };

export interface ErrorReport {
  code?: string;
  message: string;
  hint?: string;
}

export interface OpReport {
  op: string;
  ms: number;
  value?: unknown;
  error?: ErrorReport;
}

export interface Report {
  openMs: number;
  kind?: string;
  notice?: string;
  openError?: ErrorReport;
  results: OpReport[];
}

function describe(err: unknown): ErrorReport {
  const e = err as Error;
  return isOidcError(err) ? { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } : { message: String(e?.message ?? err) };
}

async function main(): Promise<Report> {
  const script = JSON.parse(process.argv[2] ?? '') as Script;
  const report: Report = { openMs: 0, results: [] };
  const t0 = Date.now();
  let store: TokenStore;
  try {
    if (script.store === 'keyring') store = createKeyringStore({ timeoutMs: script.timeoutMs });
    else if (script.store === 'file') store = createFileStore(script.cacheDir);
    else {
      const opened = await openStore({ storage: script.store.slice(5) as StorageSetting, cacheDir: script.cacheDir, keyringTimeoutMs: script.timeoutMs });
      store = opened.store;
      if (opened.notice) report.notice = opened.notice;
    }
    report.kind = store.kind;
  } catch (err) {
    report.openError = describe(err);
    report.openMs = Date.now() - t0;
    return report;
  }
  report.openMs = Date.now() - t0;
  for (const op of script.ops) {
    const t = Date.now();
    const r: OpReport = { op: op.op, ms: 0 };
    try {
      switch (op.op) {
        case 'save':
          await store.save(op.key, op.tokens);
          break;
        case 'load':
          r.value = (await store.load(op.key)) ?? null;
          break;
        case 'delete':
          await store.delete(op.key);
          break;
        case 'probe':
          r.value = await probeKeyring({ timeoutMs: script.timeoutMs });
          break;
        case 'setRaw': {
          const k = await import('@napi-rs/keyring');
          await new k.AsyncEntry('kubectl-oidc', op.key, { linux: { store: 'secret-service' } }).setPassword(op.value);
          break;
        }
        case 'list': {
          const k = await import('@napi-rs/keyring');
          r.value = (await k.findCredentialsAsync(op.service ?? 'kubectl-oidc')).map((c) => c.account);
          break;
        }
        case 'fsread':
          await readFile(new URL(import.meta.url));
          break;
      }
    } catch (err) {
      r.error = describe(err);
    }
    r.ms = Date.now() - t;
    report.results.push(r);
  }
  return report;
}

main().then(
  (report) => {
    process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
  },
  (err) => {
    process.stdout.write(`${JSON.stringify({ crash: String((err as Error)?.stack ?? err) })}\n`, () => process.exit(0));
  },
);
