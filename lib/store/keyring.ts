import { randomBytes } from 'node:crypto';
import { OidcError } from '../errors.js';
import { canonicalJson } from './key.js';
import { parseTokenSet, type TokenSet, type TokenStore } from './types.js';

const KEYRING_SERVICE = 'kubectl-oidc';
export const DEFAULT_KEYRING_TIMEOUT_MS = 3_000;
/**
 * Largest item we write. macOS tools choke on items over ~4 KiB (`security -i` line limit) and
 * Windows caps a credential at 2560 bytes of UTF-16; an ID token with many groups can exceed that.
 * A larger session is refused with `tooLarge` set, so `auto` can keep it in the file store instead.
 */
const MAX_ITEM_BYTES = 3_072;
/** After a call that never answered, do not ask the keyring again for this long (see `call`). */
const WEDGED_COOL_DOWN_MS = 60_000;

export type Keyring = typeof import('@napi-rs/keyring');

/**
 * Pin the Secret Service on Linux. The library's default silently falls back to the kernel
 * keyring (keyutils), which forgets everything at logout, and does so even when the Secret
 * Service is merely hung, so tokens would land somewhere nobody expects.
 */
const ENTRY_OPTIONS = { linux: { store: 'secret-service' as const } };

let lib: Promise<Keyring> | undefined;
/** Imported on first use only: the get-token fast path must never pay for a native module. */
function loadLib(): Promise<Keyring> {
  if (!lib) {
    lib = import('@napi-rs/keyring').then((m) => ((m as { default?: Keyring }).default ?? m) as Keyring);
    lib.catch(() => (lib = undefined)); // let a later call retry
  }
  return lib;
}

/** What went wrong, in a few words; `hung` when nobody answered, `missing` when the item vanished. */
class KeyringFailure extends Error {
  constructor(
    readonly reason: string,
    readonly flags: { hung?: boolean; missing?: boolean; tooLong?: boolean; absent?: boolean } = {},
    cause?: unknown,
  ) {
    super(reason, cause === undefined ? undefined : { cause });
  }
}

const noAnswer = (ms: number) =>
  `${process.platform === 'linux' ? 'the Secret Service' : 'the OS keyring'} did not answer within ${Math.max(1, Math.round(ms / 1000))}s`;

/** Turn the library's long, nested messages into a short reason (they all carry code "GenericFailure"). */
function classify(err: unknown, elapsedMs: number): KeyringFailure {
  if (err instanceof KeyringFailure) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const f = (reason: string, flags?: KeyringFailure['flags']) => new KeyringFailure(reason, flags, err);
  // libdbus gives up after ~2 s without a reply; the service is hung just as if we had timed out.
  if (/did not receive a reply|NoReply|timed out/i.test(msg)) return f(noAnswer(elapsedMs), { hung: true });
  if (/DBUS_SESSION_BUS_ADDRESS|autolaunch/i.test(msg)) {
    return f(process.env.DBUS_SESSION_BUS_ADDRESS ? 'cannot find the D-Bus session bus' : 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)', { absent: true });
  }
  if (/Failed to connect to socket|Address does not contain|Connection refused|Could not parse server address/i.test(msg)) return f('cannot connect to the D-Bus session bus', { absent: true });
  if (/org\.freedesktop\.secrets was not provided|ServiceUnknown/i.test(msg)) return f('no Secret Service on the D-Bus session bus', { absent: true });
  if (/prompt was dismissed|IsLocked|is locked/i.test(msg)) return f('the keyring is locked');
  if (/Object does not exist/i.test(msg)) return f('the item vanished', { missing: true });
  if (/too ?long|too ?big|too ?large/i.test(msg)) return f('the item is too large for this keyring', { tooLong: true });
  if (/native binding|Cannot find module/i.test(msg)) return f('the keyring module does not load on this platform', { absent: true });
  return f(msg.split('\n')[0]!.replace(/^(Platform failure|Couldn't access platform storage): /, ''));
}

/**
 * Native calls run one at a time, and one that overruns wedges the keyring for this process.
 * Why: the async calls run on libuv's threadpool (4 threads, shared with fs, dns and crypto), and
 * the library serialises its D-Bus calls, each waiting up to ~2 s for a reply. With a Secret
 * Service that never answers, N queued calls would take N×2 s while starving file I/O. So at most
 * one call is in the pool, and every later call fails at once until the stuck one has returned
 * and a cool-down has passed.
 */
let queue: Promise<unknown> = Promise.resolve();
let wedged: { reason: string; settled: boolean; at: number } | undefined;

function wedgedReason(): string | undefined {
  if (wedged?.settled && Date.now() - wedged.at > WEDGED_COOL_DOWN_MS) wedged = undefined;
  return wedged && `${wedged.reason} a moment ago; not asking it again yet`;
}

/** True while the keyring is considered hung: a cached probe result must not be trusted then. */
export function keyringWedged(): boolean {
  return wedgedReason() !== undefined;
}

function call<T>(timeoutMs: number, fn: (k: Keyring) => Promise<T>, load: () => Promise<Keyring> = loadLib): Promise<T> {
  const start = Date.now();
  const early = wedgedReason();
  if (early) return Promise.reject(new KeyringFailure(early, { hung: true }));
  const run = queue.then(async () => {
    const late = wedgedReason();
    if (late) throw new KeyringFailure(late, { hung: true });
    // The entry constructor talks to D-Bus synchronously (up to ~2 s if nobody answers). That
    // cannot be bounded from here, but it ends by itself and then wedges the keyring below.
    return fn(await load());
  });
  queue = run.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const w = { reason: noAnswer(timeoutMs), settled: false, at: Date.now() };
      wedged = w;
      // The native call goes on in the threadpool; the keyring stays wedged until it returns.
      void run.catch(() => {}).finally(() => Object.assign(w, { settled: true, at: Date.now() }));
      reject(new KeyringFailure(w.reason, { hung: true }));
    }, timeoutMs);
    run.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        const f = classify(err, Date.now() - start);
        if (f.flags.hung && !wedged) wedged = { reason: f.reason, settled: true, at: Date.now() };
        reject(f);
      },
    );
  });
}

const HINT_HUNG = 'the Secret Service (gnome-keyring, KWallet, KeePassXC) is not answering; restart it, or use --token-cache-storage=file';
const HINT = 'unlock or start your OS keyring, or use --token-cache-storage=file';

function keyringError(what: string, f: KeyringFailure): OidcError {
  const err = new OidcError('E_KEYRING', `cannot ${what} the OS keyring: ${f.reason}`, { cause: f.cause ?? f, hint: f.flags.hung ? HINT_HUNG : HINT });
  return Object.assign(err, { absent: f.flags.absent === true });
}

/** No keyring exists here at all (no D-Bus, no Secret Service, no native module), as opposed to a locked or hung one. */
export function isKeyringAbsent(err: unknown): boolean {
  return (err as { absent?: unknown } | null)?.absent === true;
}

/** The stored form: the TokenSet as compact JSON (JSON.stringify drops an absent refresh token). */
function encodeItem(tokens: TokenSet): string {
  return JSON.stringify(tokens);
}

/**
 * One keyring item per session key: service `kubectl-oidc`, account = the session key, value =
 * the TokenSet as compact JSON. A missing or unreadable item is a cache miss; a keyring that is
 * absent, locked, slow or hung throws OidcError('E_KEYRING') within `timeoutMs`.
 *
 * An item is written only when its content changed from what this store last read or wrote: on some
 * backends every write costs a Keychain audit entry, a durable write or a prompt (kubelogin#1569).
 * `backend` replaces the native module (tests count its calls).
 */
export function createKeyringStore(opts: { service?: string; timeoutMs?: number; backend?: () => Promise<Keyring> } = {}): TokenStore {
  const service = opts.service ?? KEYRING_SERVICE;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  const load = opts.backend ?? loadLib;
  const entry = (k: Keyring, key: string) => new k.AsyncEntry(service, key, ENTRY_OPTIONS);
  const failure = (err: unknown) => classify(err, 0); // call() already classified it
  /** Each item as this store last saw it (canonical JSON of the TokenSet), to skip writing it again unchanged. */
  const seen = new Map<string, string>();
  return {
    kind: 'keyring',
    async load(key) {
      let text: string | null;
      seen.delete(key);
      try {
        text = await call(timeoutMs, (k) => entry(k, key).getPassword(), load);
      } catch (err) {
        const f = failure(err);
        if (f.flags.missing) return undefined; // deleted by another process mid-read
        throw keyringError('read from', f);
      }
      if (text === null) return undefined;
      let tokens: TokenSet | undefined;
      try {
        tokens = parseTokenSet(JSON.parse(text));
      } catch {
        return undefined;
      }
      if (tokens) seen.set(key, canonicalJson(tokens));
      return tokens;
    },
    async save(key, tokens) {
      const same = canonicalJson(tokens);
      if (seen.get(key) === same) return;
      const text = encodeItem(tokens);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_ITEM_BYTES) {
        throw tooLarge(new OidcError('E_KEYRING', `the session is too large for the OS keyring (${bytes} bytes; at most ${MAX_ITEM_BYTES})`, { hint: TOO_LARGE_HINT }));
      }
      seen.delete(key);
      try {
        await call(timeoutMs, (k) => entry(k, key).setPassword(text), load);
      } catch (err) {
        const f = failure(err);
        throw f.flags.tooLong ? tooLarge(keyringError('write to', f)) : keyringError('write to', f);
      }
      seen.set(key, same);
    },
    async delete(key) {
      seen.delete(key);
      try {
        await call(timeoutMs, (k) => entry(k, key).deleteCredential(), load); // false when absent: fine
      } catch (err) {
        const f = failure(err);
        if (!f.flags.missing) throw keyringError('delete from', f);
      }
    },
  };
}

const TOO_LARGE_HINT = 'use --token-cache-storage=auto or file for this issuer';
function tooLarge(err: OidcError): OidcError {
  return Object.assign(err, { tooLarge: true });
}

/** The store refused a session only because of its size (`auto` keeps such a session in the file store). */
export function isTooLarge(err: unknown): boolean {
  return (err as { tooLarge?: unknown } | null)?.tooLarge === true;
}

/**
 * A real round trip (write, read back, delete a throwaway item), bounded by `timeoutMs` overall.
 * Nothing less is trustworthy: a locked collection still answers reads of absent items.
 */
export async function probeKeyring(opts: { service?: string; timeoutMs?: number } = {}): Promise<{ ok: true } | { ok: false; reason: string }> {
  const service = opts.service ?? KEYRING_SERVICE;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_KEYRING_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  const account = `probe-${process.pid}-${randomBytes(4).toString('hex')}`;
  const value = randomBytes(8).toString('hex');
  const entry = (k: Keyring) => new k.AsyncEntry(service, account, ENTRY_OPTIONS);
  try {
    await call(left(), (k) => entry(k).setPassword(value));
    const back = await call(left(), (k) => entry(k).getPassword());
    await call(left(), (k) => entry(k).deleteCredential());
    return back === value ? { ok: true } : { ok: false, reason: 'the keyring did not return what was written to it' };
  } catch (err) {
    return { ok: false, reason: classify(err, 0).reason };
  }
}
