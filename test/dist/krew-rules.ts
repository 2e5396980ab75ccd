/**
 * krew's rules for a plugin manifest, as its own code applies them: pkg/index/validation/validate.go
 * (ValidatePlugin, validatePlatform, validateSelector) and cmd/validate-krew-manifest (line lengths, every
 * platform selects a supported os/arch, no two platforms select the same one). krew decodes manifests
 * strictly, so unknown fields are errors too. Returns the problems, empty when the manifest is valid.
 */
export const SUPPORTED_PLATFORMS: readonly [string, string][] = [
  ['windows', '386'], ['windows', 'amd64'], ['windows', 'arm64'],
  ['linux', '386'], ['linux', 'amd64'], ['linux', 'arm'], ['linux', 'arm64'], ['linux', 'ppc64le'], ['linux', 's390x'],
  ['darwin', 'amd64'], ['darwin', 'arm64'],
];

const WINDOWS_FORBIDDEN = ['CON', 'PRN', 'AUX', 'NUL', ...Array.from({ length: 9 }, (_, i) => `COM${i + 1}`), ...Array.from({ length: 9 }, (_, i) => `LPT${i + 1}`)];
// krew's semver.Parse: a "v" prefix, then a semantic version.
const SEMVER = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

interface Expr { key: string; operator: string; values?: string[] }
export interface Selector { matchLabels?: Record<string, string>; matchExpressions?: Expr[] }

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function unknownKeys(o: Obj, allowed: string[], where: string, out: string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) out.push(`${where}: unknown field ${JSON.stringify(k)}`);
}

/** metav1.LabelSelector semantics over the labels {os, arch}. */
export function selectorMatches(sel: Selector, os: string, arch: string): boolean {
  const labels: Record<string, string> = { os, arch };
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const v = labels[e.key];
    const inValues = v !== undefined && (e.values ?? []).includes(v);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && v === undefined) return false;
    if (e.operator === 'DoesNotExist' && v !== undefined) return false;
  }
  return true;
}

function lineLengthOk(s: string, max: number): boolean {
  return s.split('\n').every((l) => l.length <= max || !l.trim().includes(' '));
}

export function validateKrewManifest(doc: unknown, name: string): string[] {
  const errs: string[] = [];
  if (!isObj(doc)) return ['the manifest is not a mapping'];
  unknownKeys(doc, ['apiVersion', 'kind', 'metadata', 'spec'], 'manifest', errs);
  if (doc.apiVersion !== 'krew.googlecontainertools.github.com/v1alpha2') errs.push(`apiVersion ${JSON.stringify(doc.apiVersion)} is not supported`);
  if (doc.kind !== 'Plugin') errs.push(`kind ${JSON.stringify(doc.kind)}: only "Plugin" is supported`);
  if (!/^[\w-]+$/.test(name) || WINDOWS_FORBIDDEN.includes(name.toUpperCase())) errs.push(`the plugin name ${JSON.stringify(name)} is not allowed`);
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  if (meta.name !== name) errs.push(`plugin should be named ${JSON.stringify(name)}, not ${JSON.stringify(meta.name)}`);
  if (!isObj(doc.spec)) return [...errs, 'no spec'];
  const spec = doc.spec;
  unknownKeys(spec, ['version', 'shortDescription', 'description', 'caveats', 'homepage', 'platforms'], 'spec', errs);
  for (const k of ['shortDescription', 'description', 'caveats', 'homepage', 'version']) {
    if (spec[k] !== undefined && typeof spec[k] !== 'string') errs.push(`spec.${k} is not a string`);
  }
  if (!spec.shortDescription) errs.push('should have a short description');
  if (!Array.isArray(spec.platforms) || spec.platforms.length === 0) errs.push('should have a platform specified');
  if (!spec.version) errs.push('should have a version specified');
  else if (!SEMVER.test(String(spec.version))) errs.push(`failed to parse plugin version ${JSON.stringify(spec.version)} (a v-prefixed semantic version)`);
  if (typeof spec.description === 'string' && !lineLengthOk(spec.description, 80)) errs.push('a line of description is over 80 characters');
  if (typeof spec.shortDescription === 'string' && !lineLengthOk(spec.shortDescription, 70)) errs.push('shortDescription is over 70 characters');
  if (typeof spec.caveats === 'string' && !lineLengthOk(spec.caveats, 80)) errs.push('a line of caveats is over 80 characters');
  const platforms = Array.isArray(spec.platforms) ? spec.platforms : [];
  platforms.forEach((p: unknown, i) => {
    const at = `spec.platforms[${i}]`;
    if (!isObj(p)) return errs.push(`${at} is not a mapping`);
    unknownKeys(p, ['selector', 'uri', 'sha256', 'files', 'bin'], at, errs);
    if (!p.uri) errs.push(`${at}: URI has to be set`);
    else if (!/^https?:\/\/[^/]+\/./.test(String(p.uri))) errs.push(`${at}: uri ${JSON.stringify(p.uri)} is not an http(s) URL`);
    if (!p.sha256) errs.push(`${at}: sha256 sum has to be set`);
    else if (!/^[a-f0-9]{64}$/.test(String(p.sha256))) errs.push(`${at}: sha256 value ${p.sha256} is not valid`);
    if (!p.bin) errs.push(`${at}: bin has to be set`);
    if (!Array.isArray(p.files) || p.files.length === 0) errs.push(`${at}: can't have a plugin without specifying file operations`);
    else {
      p.files.forEach((f: unknown, j) => {
        if (!isObj(f) || typeof f.from !== 'string' || !f.from || typeof f.to !== 'string' || !f.to) errs.push(`${at}.files[${j}] needs from and to`);
        else unknownKeys(f, ['from', 'to'], `${at}.files[${j}]`, errs);
      });
    }
    const sel = p.selector;
    if (!isObj(sel)) return errs.push(`${at}: nil selector is not supported`);
    unknownKeys(sel, ['matchLabels', 'matchExpressions'], `${at}.selector`, errs);
    if (sel.matchLabels === undefined && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0)) return errs.push(`${at}: empty selector is not supported`);
    if (sel.matchLabels !== undefined && (!isObj(sel.matchLabels) || Object.keys(sel.matchLabels).length === 0)) errs.push(`${at}: matchLabels specified but empty`);
    if (sel.matchExpressions !== undefined && (!Array.isArray(sel.matchExpressions) || sel.matchExpressions.length === 0)) errs.push(`${at}: matchExpressions specified but empty`);
    const keys = [...Object.keys(isObj(sel.matchLabels) ? sel.matchLabels : {}), ...(Array.isArray(sel.matchExpressions) ? sel.matchExpressions.map((e: Expr) => e.key) : [])];
    for (const k of keys) if (k !== 'os' && k !== 'arch') errs.push(`${at}: selector key ${JSON.stringify(k)} not supported`);
    if (!SUPPORTED_PLATFORMS.some(([os, arch]) => selectorMatches(sel as Selector, os, arch))) errs.push(`${at}: its selector matches no supported platform`);
    return undefined;
  });
  for (const [os, arch] of SUPPORTED_PLATFORMS) {
    const hits = platforms.map((p: unknown, i) => (isObj(p) && isObj(p.selector) && selectorMatches(p.selector as Selector, os, arch) ? i : -1)).filter((i) => i >= 0);
    if (hits.length > 1) errs.push(`platforms ${hits.join(', ')} overlap: they all select os=${os}/arch=${arch}`);
  }
  return errs;
}

/** The one platform entry that krew would pick for os/arch. */
export function platformFor<P extends { selector: Selector }>(doc: { spec: { platforms: P[] } }, os: string, arch: string): P | undefined {
  return doc.spec.platforms.find((p) => selectorMatches(p.selector, os, arch));
}
