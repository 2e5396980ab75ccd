/**
 * krew.yaml against krew's rules, and the sha256 of every platform against its archive: the manifest
 * that this run's release wrote (always), and the committed one against dist/ when `npm run release`
 * left its archives there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../e2e/world.js';
import { SUPPORTED_PLATFORMS, selectorMatches, validateKrewManifest } from './krew-rules.js';
import { RELEASE_DIR, RELEASE_MANIFEST, VERSION, archiveName, readManifest, releaseMissing, sha256 } from './release.js';

const TOP = join(ROOT, 'krew.yaml');

test('the rules catch what krew refuses', () => {
  const good = readManifest(TOP);
  assert.deepEqual(validateKrewManifest(good, 'oidc'), []);
  const broken = (f: (m: ReturnType<typeof readManifest>) => void) => {
    const m = structuredClone(good);
    f(m);
    return validateKrewManifest(m, 'oidc');
  };
  assert.match(broken((m) => (m.spec.version = '0.1.0')).join(), /version/);
  assert.match(broken((m) => (m.metadata.name = 'kubectl-oidc')).join(), /should be named "oidc"/);
  assert.match(broken((m) => delete (m.spec as Record<string, unknown>).shortDescription).join(), /short description/);
  assert.match(broken((m) => (m.spec.platforms[0]!.sha256 = 'ABC')).join(), /sha256 value/);
  assert.match(broken((m) => (m.spec.platforms[0]!.files = [])).join(), /file operations/);
  assert.match(broken((m) => (m.spec.platforms[0]!.selector = { matchLabels: { os: 'linux', distro: 'debian' } })).join(), /"distro" not supported/);
  assert.match(broken((m) => m.spec.platforms.push(structuredClone(m.spec.platforms[0]!))).join(), /overlap/);
  assert.match(broken((m) => ((m.spec as Record<string, unknown>).homepge = 'x')).join(), /unknown field "homepge"/);
});

test('krew.yaml: a valid krew manifest for this version, one platform per os/arch', () => {
  const m = readManifest(TOP);
  assert.deepEqual(validateKrewManifest(m, 'oidc'), []);
  assert.equal(m.spec.version, `v${VERSION}`);
  assert.match(String(m.spec.homepage), /^https:\/\//);
  assert.match(String(m.spec.caveats), /kube-apiserver/);
  assert.match(String(m.spec.caveats), /staticClients/);
  assert.match(String(m.spec.caveats), /kubectl oidc setup/);
  assert.ok(m.spec.platforms.some((p) => selectorMatches(p.selector, 'linux', 'amd64')), 'linux/amd64 is there');
  for (const p of m.spec.platforms) {
    const [os, arch] = SUPPORTED_PLATFORMS.find(([o, a]) => selectorMatches(p.selector, o, a))!;
    assert.equal(basename(new URL(p.uri).pathname), archiveName(os, arch));
    assert.ok(p.uri.includes(`/v${VERSION}/`), `${p.uri} names the version`);
    assert.equal(p.bin, os === 'windows' ? 'kubectl-oidc.exe' : 'kubectl-oidc');
    assert.ok(p.files.some((f) => f.from === p.bin), 'the executable is installed');
  }
});

// The committed krew.yaml's hashes name the release built when it was last written (Bun's builds are byte-reproducible,
// but any change to the bundles, README.md or the notices changes them: run `npm run release` before tagging), so the
// hashes are checked on this run's own release below, never skipped.
test("this run's release: its manifest is valid and each sha256 matches its archive", { skip: releaseMissing() }, () => {
  const m = readManifest(RELEASE_MANIFEST);
  assert.deepEqual(validateKrewManifest(m, 'oidc'), []);
  assert.ok(m.spec.platforms.length >= 1);
  for (const p of m.spec.platforms) {
    const name = basename(new URL(p.uri).pathname);
    const data = readFileSync(join(RELEASE_DIR, name));
    assert.equal(sha256(data), p.sha256, name);
    assert.equal(readFileSync(join(RELEASE_DIR, `${name}.sha256`), 'utf8'), `${p.sha256}  ${name}\n`, 'the .sha256 file agrees');
  }
});
