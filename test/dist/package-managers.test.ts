/**
 * The Homebrew formula and the Scoop manifest: well-formed (`ruby -c`; Scoop's fields), and every url and
 * sha256 naming an archive this run's release built, byte for byte. The committed files must agree with
 * the committed krew.yaml (one release wrote all three).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../e2e/world.js';
import { platformFor } from './krew-rules.js';
import { RELEASE_DIR, RELEASE_HOMEBREW, RELEASE_MANIFEST, RELEASE_SCOOP, VERSION, archiveName, readManifest, releaseMissing, sha256 } from './release.js';

const FORMULA = join(ROOT, 'plugin-manifest/homebrew/kubectl-oidc.rb');
const SCOOP = join(ROOT, 'plugin-manifest/scoop/kubectl-oidc.json');

function rubyMissing(): string | undefined {
  if (spawnSync('ruby', ['--version']).status === 0) return undefined;
  const why = 'ruby is missing (Debian: ruby): the formula cannot be checked';
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

/** The formula's (os, arch) → {url, sha256}, read from its on_macos/on_linux × on_arm/on_intel blocks. */
export function formulaPlatforms(src: string): Map<string, { url: string; sha256: string }> {
  const out = new Map<string, { url: string; sha256: string }>();
  let os = '';
  let arch = '';
  let url = '';
  for (const line of src.split('\n')) {
    const t = line.trim();
    if (t === 'on_macos do') os = 'darwin';
    else if (t === 'on_linux do') os = 'linux';
    else if (t === 'on_arm do') arch = 'arm64';
    else if (t === 'on_intel do') arch = 'amd64';
    else if (t.startsWith('url ')) url = JSON.parse(t.slice(4)) as string;
    else if (t.startsWith('sha256 ')) {
      assert.ok(os && arch && url, `sha256 outside an os/arch block with a url: ${t}`);
      out.set(`${os}/${arch}`, { url, sha256: JSON.parse(t.slice(7)) as string });
      url = '';
    }
  }
  return out;
}

interface Scoop {
  version: string;
  description: string;
  homepage: string;
  license: string;
  bin: string;
  architecture: { '64bit': { url: string; hash: string } };
}

function checkFormula(file: string) {
  const r = spawnSync('ruby', ['-c', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ruby -c ${file}: ${r.stderr}`);
  const src = readFileSync(file, 'utf8');
  assert.match(src, /^class KubectlOidc < Formula$/m);
  assert.match(src, new RegExp(`^  version "${VERSION.replace(/\./g, '\\.')}"$`, 'm'));
  assert.match(src, /libexec\.install "kubectl-oidc", "keyring\.node"/, 'the addon sits beside the executable');
  assert.match(src, /bin\.install_symlink libexec\/"kubectl-oidc"/);
  const platforms = formulaPlatforms(src);
  assert.deepEqual([...platforms.keys()].sort(), ['darwin/amd64', 'darwin/arm64', 'linux/amd64', 'linux/arm64']);
  for (const [p, { url, sha256: hash }] of platforms) {
    const [os, arch] = p.split('/') as [string, string];
    assert.equal(basename(new URL(url).pathname), archiveName(os, arch));
    assert.ok(url.includes(`/v${VERSION}/`), `${url} names the version`);
    assert.match(hash, /^[0-9a-f]{64}$/);
  }
  return platforms;
}

function checkScoop(file: string): Scoop {
  const m = JSON.parse(readFileSync(file, 'utf8')) as Scoop;
  assert.equal(m.version, VERSION);
  assert.equal(m.bin, 'kubectl-oidc.exe');
  assert.equal(m.license, 'Apache-2.0');
  assert.match(m.homepage, /^https:\/\//);
  const a = m.architecture['64bit'];
  assert.equal(basename(new URL(a.url).pathname), archiveName('windows', 'amd64'));
  assert.match(a.hash, /^[0-9a-f]{64}$/);
  return m;
}

test('the committed formula and Scoop manifest: well-formed, and the same archives as krew.yaml', { skip: rubyMissing() }, () => {
  const formula = checkFormula(FORMULA);
  const scoop = checkScoop(SCOOP);
  const krew = readManifest(join(ROOT, 'krew.yaml'));
  for (const [p, f] of formula) {
    const k = platformFor(krew, ...(p.split('/') as [string, string]));
    assert.ok(k, `krew.yaml has ${p}`);
    assert.deepEqual({ url: f.url, sha256: f.sha256 }, { url: k.uri, sha256: k.sha256 }, p);
  }
  const kw = platformFor(krew, 'windows', 'amd64');
  assert.ok(kw, 'krew.yaml has windows/amd64');
  assert.deepEqual({ url: scoop.architecture['64bit'].url, hash: scoop.architecture['64bit'].hash }, { url: kw.uri, hash: kw.sha256 });
});

test("this run's release: the formula's and the Scoop manifest's sha256 are its archives'", { skip: rubyMissing() ?? releaseMissing() }, () => {
  for (const [p, { url, sha256: hash }] of checkFormula(RELEASE_HOMEBREW)) {
    assert.equal(sha256(readFileSync(join(RELEASE_DIR, basename(new URL(url).pathname)))), hash, p);
  }
  const a = checkScoop(RELEASE_SCOOP).architecture['64bit'];
  assert.equal(sha256(readFileSync(join(RELEASE_DIR, basename(new URL(a.url).pathname)))), a.hash, 'windows/amd64');
  // And all three manifests of this run name the same bytes.
  const krew = readManifest(RELEASE_MANIFEST);
  assert.equal(platformFor(krew, 'windows', 'amd64')?.sha256, a.hash);
});

test('the formula check fails on a wrong sha256 and on Ruby that does not parse', { skip: rubyMissing() ?? releaseMissing() }, async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'ko-brew-'));
  const src = readFileSync(RELEASE_HOMEBREW, 'utf8');
  const broken = join(dir, 'broken.rb');
  writeFileSync(broken, src.replace('  def install\n', '  def install(\n'));
  assert.throws(() => checkFormula(broken), /ruby -c/);
  const [first] = [...formulaPlatforms(src).values()];
  const wrong = formulaPlatforms(src.replace(first!.sha256, '0'.repeat(64)));
  const w = [...wrong.values()][0]!;
  assert.notEqual(sha256(readFileSync(join(RELEASE_DIR, basename(new URL(w.url).pathname)))), w.sha256);
});
