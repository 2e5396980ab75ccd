import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash, X509Certificate } from 'node:crypto';
import { OidcError } from '../errors.js';

// Kept apart from http.ts (which loads undici) so the agent can key sessions without loading the HTTP stack.

/** The PEM certificate blocks in `text` (the one place PEM is split). */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** A CA bundle larger than this is refused. The whole Mozilla bundle is about 220 KiB. */
export const MAX_CA_FILE_BYTES = 4 * 1024 * 1024;
/** Reading one CA file may take this long (a hung network mount must not hold a request for ever). */
export const CA_READ_TIMEOUT_MS = 5_000;

/**
 * Read a CA file without ever blocking the agent: opened non-blocking (a FIFO would otherwise wait
 * for a writer), refused unless it is a regular file (a FIFO, /dev/zero, a socket), capped in size,
 * and bounded in time. `what` names it in errors (`--certificate-authority FILE`).
 */
export async function readCaFile(file: string, what: string, opts: { timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const maxBytes = opts.maxBytes ?? MAX_CA_FILE_BYTES;
  const timeoutMs = opts.timeoutMs ?? CA_READ_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let timedOut = false;
  const work = (async () => {
    try {
      handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (cause) {
      throw new OidcError('E_CONFIG', `cannot read ${what}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
    if (timedOut) return '';
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new OidcError('E_CONFIG', `${what} is not a regular file (${kindOf(st)}); refusing to read it`, { hint: 'point it at a PEM file' });
    }
    if (st.size > maxBytes) throw tooLarge(what, maxBytes);
    // Read to the cap and one byte more: the file may have grown since fstat.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)));
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0 || timedOut) break;
      n += bytesRead;
    }
    if (n > maxBytes) throw tooLarge(what, maxBytes);
    return buf.toString('utf8', 0, n);
  })();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new OidcError('E_CONFIG', `reading ${what} took more than ${Math.round(timeoutMs / 1000)} s; giving up`, { hint: 'is it on a network mount that hangs? copy the CA to a local file' }));
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // After a timeout the read may still be running in the thread pool: close once it is done.
    void work.catch(() => {}).finally(() => handle?.close().catch(() => {}));
  }
}

function tooLarge(what: string, maxBytes: number): OidcError {
  return new OidcError('E_CONFIG', `${what} is larger than ${Math.round(maxBytes / (1024 * 1024))} MiB; refusing to read it`, { hint: 'point it at a PEM file with the CA certificates only' });
}

function kindOf(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean; isDirectory(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a file';
}

/** Read and check the custom CAs up front, so a wrong path is a clear error rather than a TLS failure later. */
export async function loadCustomCAs(caFiles: readonly string[], caData: readonly string[]): Promise<string[]> {
  const pems: string[] = [];
  for (const file of caFiles) pems.push(...checkedPems(await readCaFile(file, `--certificate-authority ${file}`), `--certificate-authority ${file}`));
  for (const data of caData) pems.push(...checkedPems(Buffer.from(data, 'base64').toString('utf8'), '--certificate-authority-data'));
  return pems;
}

/** Part of the session key: a different CA bundle is a different session. */
export function caDigestOf(pems: readonly string[]): string {
  return pems.length === 0 ? '' : createHash('sha256').update(pems.join('\n')).digest('hex');
}

function checkedPems(text: string, what: string): string[] {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) throw new OidcError('E_CONFIG', `${what} holds no PEM certificate`);
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (cause) {
      throw new OidcError('E_CONFIG', `${what} holds a certificate that cannot be parsed`, { cause });
    }
  }
  return blocks;
}
