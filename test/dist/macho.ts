/**
 * A Mach-O reader for the darwin release checks: the load commands we need and the embedded code
 * signature (LC_CODE_SIGNATURE → a SuperBlob → the CodeDirectory), every page hash recomputed.
 * Layouts from Apple's open-source headers (xnu's osfmk/kern/cs_blobs.h, cctools' mach-o/loader.h).
 * Mach-O fields are little-endian; the signature blobs are big-endian.
 */
import { createHash } from 'node:crypto';

export const CPU_TYPE_X86_64 = 0x01000007;
export const CPU_TYPE_ARM64 = 0x0100000c;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
export const CS_ADHOC = 0x2;
export const CS_LINKER_SIGNED = 0x20000;
export const CS_HASHTYPE_SHA256 = 2;
export const CS_EXECSEG_MAIN_BINARY = 0x1;

export interface Segment {
  name: string;
  vmaddr: bigint;
  vmsize: bigint;
  fileoff: number;
  filesize: number;
}

export interface CodeDirectory {
  version: number;
  flags: number;
  hashOffset: number;
  identOffset: number;
  identifier: string;
  nSpecialSlots: number;
  nCodeSlots: number;
  codeLimit: number;
  hashSize: number;
  hashType: number;
  platform: number;
  pageSizeLog2: number;
  scatterOffset: number;
  teamOffset: number;
  codeLimit64: bigint;
  execSegBase: bigint;
  execSegLimit: bigint;
  execSegFlags: bigint;
}

export interface MachO {
  cputype: number;
  filetype: number;
  segments: Segment[];
  /** LC_CODE_SIGNATURE: where the signature sits in the file. */
  signature?: { dataoff: number; datasize: number };
  /** Blob types in the SuperBlob, in order. */
  blobTypes: number[];
  codeDirectory?: CodeDirectory;
}

const cstr = (buf: Buffer, start: number, end: number) => {
  const nul = buf.indexOf(0, start);
  return buf.toString('latin1', start, nul < 0 || nul > end ? end : nul);
};

export function parseMachO(buf: Buffer): MachO {
  if (buf.length < 32 || buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error('not a 64-bit little-endian Mach-O (magic)');
  const m: MachO = { cputype: buf.readUInt32LE(4), filetype: buf.readUInt32LE(12), segments: [], blobTypes: [] };
  const ncmds = buf.readUInt32LE(16);
  const sizeofcmds = buf.readUInt32LE(20);
  if (32 + sizeofcmds > buf.length) throw new Error('load commands run past the end of the file');
  let off = 32;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(off);
    const size = buf.readUInt32LE(off + 4);
    if (size < 8 || off + size > 32 + sizeofcmds) throw new Error(`load command ${i} has a bad size ${size}`);
    if (cmd === LC_SEGMENT_64) {
      m.segments.push({
        name: cstr(buf, off + 8, off + 24),
        vmaddr: buf.readBigUInt64LE(off + 24),
        vmsize: buf.readBigUInt64LE(off + 32),
        fileoff: Number(buf.readBigUInt64LE(off + 40)),
        filesize: Number(buf.readBigUInt64LE(off + 48)),
      });
    } else if (cmd === LC_CODE_SIGNATURE) {
      m.signature = { dataoff: buf.readUInt32LE(off + 8), datasize: buf.readUInt32LE(off + 12) };
    }
    off += size;
  }
  if (!m.signature) return m;
  const { dataoff, datasize } = m.signature;
  if (dataoff + datasize > buf.length) throw new Error('the code signature runs past the end of the file');
  const sb = buf.subarray(dataoff, dataoff + datasize);
  if (sb.readUInt32BE(0) !== CSMAGIC_EMBEDDED_SIGNATURE) throw new Error(`the signature is not an embedded SuperBlob (magic 0x${sb.readUInt32BE(0).toString(16)})`);
  const sbLength = sb.readUInt32BE(4);
  if (sbLength > datasize) throw new Error(`the SuperBlob (${sbLength} bytes) is longer than LC_CODE_SIGNATURE's ${datasize}`);
  const count = sb.readUInt32BE(8);
  for (let i = 0; i < count; i++) {
    const type = sb.readUInt32BE(12 + i * 8);
    const at = sb.readUInt32BE(16 + i * 8);
    m.blobTypes.push(type);
    if (type !== CSSLOT_CODEDIRECTORY) continue;
    const cd = sb.subarray(at, sbLength);
    if (cd.readUInt32BE(0) !== CSMAGIC_CODEDIRECTORY) throw new Error('slot 0 is not a CodeDirectory');
    const version = cd.readUInt32BE(8);
    const identOffset = cd.readUInt32BE(20);
    m.codeDirectory = {
      version,
      flags: cd.readUInt32BE(12),
      hashOffset: cd.readUInt32BE(16),
      identOffset,
      identifier: cstr(cd, identOffset, cd.readUInt32BE(4)),
      nSpecialSlots: cd.readUInt32BE(24),
      nCodeSlots: cd.readUInt32BE(28),
      codeLimit: cd.readUInt32BE(32),
      hashSize: cd.readUInt8(36),
      hashType: cd.readUInt8(37),
      platform: cd.readUInt8(38),
      pageSizeLog2: cd.readUInt8(39),
      scatterOffset: version >= 0x20100 ? cd.readUInt32BE(44) : 0,
      teamOffset: version >= 0x20200 ? cd.readUInt32BE(48) : 0,
      codeLimit64: version >= 0x20300 ? cd.readBigUInt64BE(56) : 0n,
      execSegBase: version >= 0x20400 ? cd.readBigUInt64BE(64) : 0n,
      execSegLimit: version >= 0x20400 ? cd.readBigUInt64BE(72) : 0n,
      execSegFlags: version >= 0x20400 ? cd.readBigUInt64BE(80) : 0n,
    };
    (m as MachO & { cdBytes?: Buffer }).cdBytes = cd;
  }
  return m;
}

/**
 * Everything about the signature that can be checked without a Mac. Returns the problems (empty: valid)
 * and how many page hashes were recomputed.
 */
export function verifyAdhocSignature(buf: Buffer): { problems: string[]; pages: number; macho: MachO } {
  const problems: string[] = [];
  const m = parseMachO(buf);
  const cd = m.codeDirectory;
  const cdBytes = (m as MachO & { cdBytes?: Buffer }).cdBytes;
  if (!m.signature) return { problems: ['no LC_CODE_SIGNATURE'], pages: 0, macho: m };
  if (!cd || !cdBytes) return { problems: ['no CodeDirectory in the signature'], pages: 0, macho: m };
  const { dataoff, datasize } = m.signature;
  // The signature covers the file up to itself, and is the last thing in it.
  if (cd.codeLimit !== dataoff) problems.push(`codeLimit ${cd.codeLimit} is not the signature's offset ${dataoff}`);
  if (dataoff + datasize !== buf.length) problems.push(`the signature ends at ${dataoff + datasize}, the file at ${buf.length}`);
  if (cd.codeLimit64 !== 0n) problems.push(`codeLimit64 ${cd.codeLimit64} set for a file under 4 GiB`);
  const linkedit = m.segments.find((s) => s.name === '__LINKEDIT');
  if (!linkedit) problems.push('no __LINKEDIT segment');
  else if (!(linkedit.fileoff <= dataoff && dataoff + datasize <= linkedit.fileoff + linkedit.filesize)) {
    problems.push(`__LINKEDIT [${linkedit.fileoff}, ${linkedit.fileoff + linkedit.filesize}) does not cover the signature [${dataoff}, ${dataoff + datasize})`);
  } else if (linkedit.fileoff + linkedit.filesize !== buf.length) problems.push('__LINKEDIT does not end at the end of the file');
  if (cd.hashType !== CS_HASHTYPE_SHA256 || cd.hashSize !== 32) problems.push(`hash type ${cd.hashType} size ${cd.hashSize}, not SHA-256`);
  if ((cd.flags & CS_ADHOC) === 0) problems.push(`flags 0x${cd.flags.toString(16)} lack CS_ADHOC`);
  if (cd.pageSizeLog2 < 12 || cd.pageSizeLog2 > 16) problems.push(`page size 2^${cd.pageSizeLog2}`);
  const page = 2 ** cd.pageSizeLog2;
  if (cd.nCodeSlots !== Math.ceil(cd.codeLimit / page)) problems.push(`${cd.nCodeSlots} code slots for codeLimit ${cd.codeLimit} (pages of ${page})`);
  if (cd.hashOffset + cd.nCodeSlots * cd.hashSize > cdBytes.readUInt32BE(4)) problems.push('the hash slots run past the CodeDirectory');
  const text = m.segments.find((s) => s.name === '__TEXT');
  if (cd.version >= 0x20400 && text) {
    if (cd.execSegBase !== BigInt(text.fileoff) || cd.execSegLimit !== BigInt(text.filesize)) problems.push(`execSeg [${cd.execSegBase}, +${cd.execSegLimit}) is not __TEXT [${text.fileoff}, +${text.filesize})`);
  }
  let bad = 0;
  let firstBad = -1;
  const pages = Math.min(cd.nCodeSlots, Math.ceil(cd.codeLimit / page));
  for (let i = 0; i < pages; i++) {
    const want = cdBytes.subarray(cd.hashOffset + i * cd.hashSize, cd.hashOffset + (i + 1) * cd.hashSize);
    const got = createHash('sha256').update(buf.subarray(i * page, Math.min((i + 1) * page, cd.codeLimit))).digest();
    if (!got.subarray(0, cd.hashSize).equals(want)) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad) problems.push(`${bad} of ${pages} page hashes do not match (first: page ${firstBad})`);
  return { problems, pages, macho: m };
}

/** The CodeDirectory fields that say what kind of signature this is (not where things are). */
export function signatureShape(m: MachO): Record<string, unknown> {
  const cd = m.codeDirectory!;
  return {
    blobTypes: m.blobTypes,
    version: `0x${cd.version.toString(16)}`,
    flags: `0x${cd.flags.toString(16)}`,
    identifier: cd.identifier,
    nSpecialSlots: cd.nSpecialSlots,
    hashType: cd.hashType,
    hashSize: cd.hashSize,
    platform: cd.platform,
    pageSizeLog2: cd.pageSizeLog2,
    scatterOffset: cd.scatterOffset,
    teamOffset: cd.teamOffset,
    codeLimit64: cd.codeLimit64,
    execSegFlags: cd.execSegFlags,
  };
}
