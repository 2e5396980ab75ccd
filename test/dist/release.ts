/**
 * The release that the dist tests install: scripts/test.mjs builds it once per test run, before the
 * tests start (`scripts/release.mjs` for every platform into .tmp/test-release, with its own copies of
 * krew.yaml, the Homebrew formula and the Scoop manifest), so no test builds a 100 MB executable of its own.
 * The unpacked executables (with keyring.node beside each) stay in .tmp/release/<os>_<arch>/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { ROOT } from '../e2e/world.js';
import type { Selector } from './krew-rules.js';

export const RELEASE_DIR = join(ROOT, '.tmp/test-release');
export const RELEASE_MANIFEST = join(RELEASE_DIR, 'krew.yaml');
export const RELEASE_HOMEBREW = join(RELEASE_DIR, 'kubectl-oidc.rb');
export const RELEASE_SCOOP = join(RELEASE_DIR, 'kubectl-oidc.json');
/** The unpacked executable of one platform, as the release left it (keyring.node beside it). */
export function releaseExecutable(os: string, arch: string): string {
  return join(ROOT, '.tmp/release', `${os}_${arch}`, os === 'windows' ? 'kubectl-oidc.exe' : 'kubectl-oidc');
}
export const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface KrewPlatform {
  selector: Selector;
  uri: string;
  sha256: string;
  bin: string;
  files: { from: string; to: string }[];
}
export interface KrewManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { version: string; platforms: KrewPlatform[]; [k: string]: unknown };
}

/** Why the dist tests cannot run (CI: throws instead, a missing release there is a failure). */
export function releaseMissing(): string | undefined {
  if (existsSync(RELEASE_MANIFEST)) return undefined;
  const why = `no test release in ${RELEASE_DIR}: run the tests with \`node scripts/test.mjs dist\`, which builds it`;
  if (process.env.CI === 'true') throw new Error(why);
  return why;
}

export function readManifest(file: string): KrewManifest {
  return parse(readFileSync(file, 'utf8')) as KrewManifest;
}

export const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

export function archiveName(os: string, arch: string): string {
  return `kubectl-oidc_${VERSION}_${os}_${arch}.${os === 'windows' ? 'zip' : 'tar.gz'}`;
}
