// A throw-away certificate authority for the test servers.
//
// Certificates are built by hand (a few DER helpers below) so the rig needs no extra
// dependency. Keys are EC P-256: generation is instant, and Node, Go (kubectl) and
// Chromium all accept them.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { writeFile, chmod } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

export interface TestCA {
  caPem: string;
  /** caPem written to a 0600 file, for --certificate-authority style flags. */
  caFile: string;
  /** A server certificate; SANs always include 127.0.0.1, ::1 and localhost. */
  issue(hosts?: string[]): IssuedCert;
}

const LOOPBACK_NAMES = ['127.0.0.1', '::1', 'localhost'];

// ---- minimal DER encoding -------------------------------------------------

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  let head: Buffer;
  if (n < 0x80) {
    head = Buffer.from([tag, n]);
  } else {
    const lenBytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    head = Buffer.from([tag, 0x80 | lenBytes.length, ...lenBytes]);
  }
  return Buffer.concat([head, body]);
}

const seq = (...p: Buffer[]) => tlv(0x30, ...p);
const set = (...p: Buffer[]) => tlv(0x31, ...p);
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

function bitString(b: Buffer, unusedBits = 0): Buffer {
  return tlv(0x03, Buffer.from([unusedBits]), b);
}

// DER integers are signed: strip leading zeros, then re-add one if the high bit is set.
function uint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if ((v[0] ?? 0) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tlv(0x02, v);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

// UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head = '', tail] = ip.split('::');
  const words = (s: string) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

const name = (cn: string) => seq(set(seq(oid(OID.commonName), utf8(cn))));
const ext = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function keyId(key: KeyObject): Buffer {
  return createHash('sha1').update(spkiDer(key)).digest();
}

function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive and non-zero: Go rejects negative serials
  return uint(b);
}

interface CertSpec {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  extensions: Buffer[];
}

function buildCert(spec: CertSpec): string {
  const now = Date.now();
  const algId = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    tlv(0xa0, uint(Buffer.from([2]))), // v3
    serial(),
    algId,
    name(spec.issuer),
    // Back-dated an hour so small clock differences between processes never matter.
    seq(time(new Date(now - 3600_000)), time(new Date(now + 7 * 24 * 3600_000))),
    name(spec.subject),
    spkiDer(spec.publicKey),
    tlv(0xa3, seq(...spec.extensions)),
  );
  const signature = sign('sha256', tbs, spec.signingKey); // DER ECDSA-Sig-Value
  const der = seq(tbs, algId, bitString(signature));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// ---- public API -----------------------------------------------------------

/**
 * A fresh CA, its certificate written to `dir` (unique file name, so calling this twice
 * with the same dir gives two unrelated CAs, e.g. for "wrong CA" tests).
 */
export async function createTestCA(dir: string): Promise<TestCA> {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = `kubectl-oidc test CA ${randomBytes(4).toString('hex')}`;
  const caKeyId = keyId(ca.publicKey);
  const caPem = buildCert({
    subject: caName,
    issuer: caName,
    publicKey: ca.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      ext(OID.basicConstraints, true, seq(bool(true))),
      // digitalSignature | keyCertSign | cRLSign = 1000 0110, one unused trailing bit
      ext(OID.keyUsage, true, bitString(Buffer.from([0x86]), 1)),
      ext(OID.subjectKeyId, false, octets(caKeyId)),
    ],
  });
  const caFile = join(dir, `ca-${randomBytes(4).toString('hex')}.pem`);
  await writeFile(caFile, caPem, { mode: 0o600 });
  await chmod(caFile, 0o600);

  function issue(hosts: string[] = []): IssuedCert {
    const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const names = [...new Set([...hosts, ...LOOPBACK_NAMES])];
    const sans = names.map((h) => {
      const bare = h.replace(/^\[|\]$/g, '');
      return isIP(bare) ? tlv(0x87, ipBytes(bare)) : tlv(0x82, Buffer.from(h, 'ascii'));
    });
    const certPem = buildCert({
      subject: names[0] ?? 'localhost',
      issuer: caName,
      publicKey: leaf.publicKey,
      signingKey: ca.privateKey,
        extensions: [
        ext(OID.basicConstraints, true, seq()),
        // digitalSignature only = 1000 0000, seven unused bits
        ext(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)),
        ext(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
        ext(OID.subjectAltName, false, seq(...sans)),
        ext(OID.subjectKeyId, false, octets(keyId(leaf.publicKey))),
        ext(OID.authorityKeyId, false, seq(tlv(0x80, caKeyId))),
      ],
    });
    const keyPem = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    return { certPem, keyPem };
  }

  return { caPem, caFile, issue };
}

/**
 * The value Chromium's --ignore-certificate-errors-spki-list wants for a certificate:
 * base64 of sha256 over the DER SubjectPublicKeyInfo.
 */
export function spkiHash(certPem: string): string {
  const key = new X509Certificate(certPem).publicKey;
  return createHash('sha256').update(spkiDer(key)).digest('base64');
}
