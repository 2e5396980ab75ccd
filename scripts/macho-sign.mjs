// An ad-hoc code signature for a 64-bit Mach-O executable, written the way Apple's and Go's linkers
// write one (CodeDirectory 0x20400, flags adhoc|linker-signed, SHA-256 over 4 KiB pages, identifier
// a.out, no special slots, the executable segment fields), for the darwin executables Bun leaves with a
// stale signature. Bun's darwin/x64 output still carries the signature of the runtime it started from
// (Developer ID, hardened runtime) after Bun appended the program: its codeLimit ends before the program
// and its hashes no longer match, and macOS kills a binary whose signature does not verify.
// Layouts: xnu osfmk/kern/cs_blobs.h, cctools mach-o/loader.h. test/dist/macho.ts verifies the result
// with its own reader.
import { createHash } from 'node:crypto';

const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const PAGE = 4096;
const IDENT = 'a.out';

function loadCommands(buf) {
  if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error('not a 64-bit Mach-O');
  const cmds = [];
  let off = 32;
  for (let i = 0, n = buf.readUInt32LE(16); i < n; i++) {
    cmds.push({ cmd: buf.readUInt32LE(off), off });
    off += buf.readUInt32LE(off + 4);
  }
  return cmds;
}

function segment(buf, cmds, name) {
  const c = cmds.find((c) => c.cmd === LC_SEGMENT_64 && buf.toString('latin1', c.off + 8, c.off + 24).replace(/\0+$/, '') === name);
  if (!c) throw new Error(`no ${name} segment`);
  return c.off;
}

/** Whether the signature's CodeDirectory covers exactly the code before it, ad hoc (page hashes: the tests). */
export function signatureCurrent(buf) {
  const sig = loadCommands(buf).find((c) => c.cmd === LC_CODE_SIGNATURE);
  if (!sig) return false;
  const dataoff = buf.readUInt32LE(sig.off + 8);
  if (buf.readUInt32BE(dataoff) !== 0xfade0cc0) return false;
  const count = buf.readUInt32BE(dataoff + 8);
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32BE(dataoff + 12 + i * 8) !== 0) continue;
    const cd = dataoff + buf.readUInt32BE(dataoff + 16 + i * 8);
    return buf.readUInt32BE(cd + 32) === dataoff && (buf.readUInt32BE(cd + 12) & 0x2) !== 0;
  }
  return false;
}

/** The executable with its code signature replaced by an ad-hoc one (same place: the end of __LINKEDIT). */
export function adhocSign(input) {
  const cmds = loadCommands(input);
  const sig = cmds.find((c) => c.cmd === LC_CODE_SIGNATURE);
  if (!sig) throw new Error('no LC_CODE_SIGNATURE to replace (a signature needs room in the load commands)');
  const codeLimit = input.readUInt32LE(sig.off + 8);
  if (codeLimit % 16) throw new Error(`the signature offset ${codeLimit} is not 16-byte aligned`);
  const nSlots = Math.ceil(codeLimit / PAGE);
  const identOffset = 88;
  const hashOffset = identOffset + IDENT.length + 1;
  const cdLength = hashOffset + nSlots * 32;
  const sbLength = 20 + cdLength;
  const datasize = sbLength; // unpadded, as Go's and Bun's linkers write it
  const out = Buffer.alloc(codeLimit + datasize);
  input.copy(out, 0, 0, codeLimit);
  // Load commands first: they are in page 0, which the CodeDirectory hashes.
  out.writeUInt32LE(datasize, sig.off + 12);
  const linkedit = segment(out, cmds, '__LINKEDIT');
  const leFileoff = Number(out.readBigUInt64LE(linkedit + 40));
  const leFilesize = codeLimit + datasize - leFileoff;
  out.writeBigUInt64LE(BigInt(leFilesize), linkedit + 48);
  // __LINKEDIT must map what it holds; left alone when it already does (Go's and Bun's linkers).
  if (out.readBigUInt64LE(linkedit + 32) < BigInt(leFilesize)) out.writeBigUInt64LE(BigInt(Math.ceil(leFilesize / 0x1000) * 0x1000), linkedit + 32);
  const text = segment(out, cmds, '__TEXT');
  const isExecute = out.readUInt32LE(12) === 2;

  const sb = out.subarray(codeLimit);
  sb.writeUInt32BE(0xfade0cc0, 0); // CSMAGIC_EMBEDDED_SIGNATURE
  sb.writeUInt32BE(sbLength, 4);
  sb.writeUInt32BE(1, 8); // one blob: the CodeDirectory
  sb.writeUInt32BE(0, 12); // CSSLOT_CODEDIRECTORY
  sb.writeUInt32BE(20, 16);
  const cd = sb.subarray(20);
  cd.writeUInt32BE(0xfade0c02, 0); // CSMAGIC_CODEDIRECTORY
  cd.writeUInt32BE(cdLength, 4);
  cd.writeUInt32BE(0x20400, 8); // version: with the executable segment fields
  cd.writeUInt32BE(0x20002, 12); // CS_ADHOC | CS_LINKER_SIGNED
  cd.writeUInt32BE(hashOffset, 16);
  cd.writeUInt32BE(identOffset, 20);
  cd.writeUInt32BE(0, 24); // nSpecialSlots
  cd.writeUInt32BE(nSlots, 28);
  cd.writeUInt32BE(codeLimit, 32);
  cd.writeUInt8(32, 36); // hashSize
  cd.writeUInt8(2, 37); // CS_HASHTYPE_SHA256
  cd.writeUInt8(0, 38); // platform
  cd.writeUInt8(12, 39); // log2(page size)
  // 40 spare2, 44 scatterOffset, 48 teamOffset, 52 spare3, 56 codeLimit64: all 0
  cd.writeBigUInt64BE(out.readBigUInt64LE(text + 40), 64); // execSegBase: __TEXT's file offset
  cd.writeBigUInt64BE(out.readBigUInt64LE(text + 48), 72); // execSegLimit: __TEXT's file size
  cd.writeBigUInt64BE(isExecute ? 1n : 0n, 80); // CS_EXECSEG_MAIN_BINARY
  cd.write(`${IDENT}\0`, identOffset, 'latin1');
  for (let i = 0; i < nSlots; i++) {
    createHash('sha256').update(out.subarray(i * PAGE, Math.min((i + 1) * PAGE, codeLimit))).digest().copy(cd, hashOffset + i * 32);
  }
  return out;
}
