import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { OidcError } from '../errors.js';

// Kept apart from http.ts (which loads undici) so the agent can key sessions without loading the HTTP stack.

/** The PEM certificate blocks in `text` (the one place PEM is split). */
export function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Read and check the custom CAs up front, so a wrong path is a clear error rather than a TLS failure later. */
export function loadCustomCAs(caFiles: readonly string[], caData: readonly string[]): string[] {
  const pems: string[] = [];
  for (const file of caFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new OidcError('E_CONFIG', `cannot read --certificate-authority ${file}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
    pems.push(...checkedPems(text, `--certificate-authority ${file}`));
  }
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
