/**
 * The darwin executables' ad-hoc code signatures, checked here as far as Linux can: every page hash
 * recomputed against the CodeDirectory, codeLimit, the flags, __LINKEDIT covering the signature, the
 * executable segment, and the CodeDirectory's fields against the ones Go's linker writes for a
 * darwin/arm64 hello world (a signature macOS runs for every Go program). On today's main darwin/amd64
 * failed here: Bun leaves it the stale signature of its runtime (scripts/macho-sign.mjs). Whether macOS accepts it at exec
 * time (AMFI, Gatekeeper's quarantine) only a Mac can show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CPU_TYPE_ARM64, CPU_TYPE_X86_64, CS_ADHOC, CS_LINKER_SIGNED, CS_EXECSEG_MAIN_BINARY, signatureShape, verifyAdhocSignature } from './macho.js';
import { releaseExecutable, releaseMissing } from './release.js';
import { ROOT } from '../e2e/world.js';

interface MachoSign {
  adhocSign(buf: Buffer): Buffer;
  signatureCurrent(buf: Buffer): boolean;
}
const signer = async () => (await import(pathToFileURL(join(ROOT, 'scripts/macho-sign.mjs')).href)) as MachoSign;

function goMissing(): string | undefined {
  if (spawnSync('go', ['version']).status === 0) return undefined;
  const why = 'go is missing (Debian: golang-go): no reference darwin/arm64 signature to compare with';
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

/** A Go hello world cross-built for darwin/arm64: Go's linker signs it ad hoc. */
function goHello(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'ko-go-'));
  writeFileSync(join(dir, 'main.go'), 'package main\n\nfunc main() { println("hello") }\n');
  const r = spawnSync('go', ['build', '-o', 'hello', 'main.go'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GOOS: 'darwin', GOARCH: 'arm64', CGO_ENABLED: '0', GO111MODULE: 'off', GOCACHE: join(dir, 'cache'), GOPATH: join(dir, 'gopath'), HOME: dir },
  });
  assert.equal(r.status, 0, `go build: ${r.stderr}`);
  return readFileSync(join(dir, 'hello'));
}

const skip = releaseMissing() ?? (existsSync(releaseExecutable('darwin', 'arm64')) ? undefined : 'no darwin release executables in .tmp/release');

for (const [arch, cputype] of [['arm64', CPU_TYPE_ARM64], ['amd64', CPU_TYPE_X86_64]] as const) {
  test(`darwin/${arch}: the ad-hoc signature verifies, page by page`, { skip }, () => {
    const buf = readFileSync(releaseExecutable('darwin', arch));
    const { problems, pages, macho } = verifyAdhocSignature(buf);
    assert.deepEqual(problems, []);
    assert.equal(macho.cputype, cputype);
    assert.equal(macho.filetype, 2, 'MH_EXECUTE');
    const cd = macho.codeDirectory!;
    assert.equal(cd.flags, CS_ADHOC | CS_LINKER_SIGNED);
    assert.equal(cd.execSegFlags, BigInt(CS_EXECSEG_MAIN_BINARY));
    assert.equal(pages, Math.ceil(cd.codeLimit / 4096));
    assert.ok(pages > 1000, `${pages} pages: the whole executable, not a stub`);
  });
}

test('the verifier catches a changed byte, a cut file and a moved codeLimit', { skip }, () => {
  const good = readFileSync(releaseExecutable('darwin', 'arm64'));
  const { macho } = verifyAdhocSignature(good);
  const cd = macho.codeDirectory!;
  const flipped = Buffer.from(good);
  const at = Math.floor(cd.codeLimit / 2);
  flipped[at] = flipped[at]! ^ 1;
  assert.match(verifyAdhocSignature(flipped).problems.join(), new RegExp(`1 of \\d+ page hashes do not match \\(first: page ${Math.floor(at / 4096)}\\)`));
  assert.match(verifyAdhocSignature(Buffer.concat([good, Buffer.alloc(16)])).problems.join(), /the signature ends at/);
  // codeLimit one page short of the signature (the CodeDirectory sits inside the signature, outside the hashed range).
  const moved = Buffer.from(good);
  const sigOff = macho.signature!.dataoff;
  const cdAt = sigOff + moved.readUInt32BE(sigOff + 16);
  moved.writeUInt32BE(cd.codeLimit - 4096, cdAt + 32);
  assert.match(verifyAdhocSignature(moved).problems.join(), /codeLimit \d+ is not the signature's offset/);
});

// darwin/arm64 is signed by Bun; darwin/amd64 by scripts/macho-sign.mjs (Bun leaves it a stale signature).
test("darwin: each CodeDirectory's fields are the ones Go's linker writes for darwin/arm64", { skip: skip ?? goMissing() }, () => {
  const go = verifyAdhocSignature(goHello());
  assert.deepEqual(go.problems, [], 'the Go reference verifies too (else the verifier is wrong)');
  for (const arch of ['arm64', 'amd64']) {
    const ours = verifyAdhocSignature(readFileSync(releaseExecutable('darwin', arch)));
    assert.deepEqual(signatureShape(ours.macho), signatureShape(go.macho), arch);
  }
});

// The release signs darwin/amd64 itself: the signer must write what the linkers macOS trusts write.
test("the release's signer writes, byte for byte, the signatures of Go's linker and of Bun's darwin/arm64", { skip: skip ?? goMissing() }, async () => {
  const { adhocSign, signatureCurrent } = await signer();
  for (const [name, buf] of [['Go hello', goHello()], ['Bun darwin/arm64', readFileSync(releaseExecutable('darwin', 'arm64'))]] as const) {
    assert.ok(signatureCurrent(buf), name);
    assert.ok(adhocSign(buf).equals(buf), `${name}: re-signed, the same bytes`);
  }
  // And a stale signature (what Bun leaves on darwin/amd64) is seen as stale.
  const stale = Buffer.from(readFileSync(releaseExecutable('darwin', 'arm64')));
  const { macho } = verifyAdhocSignature(stale);
  stale.writeUInt32BE(macho.codeDirectory!.codeLimit - 4096, macho.signature!.dataoff + stale.readUInt32BE(macho.signature!.dataoff + 16) + 32);
  assert.equal(signatureCurrent(stale), false);
});
