// Measures how to embed the heavy half in the single executable (see sea-build.mjs):
//   node scripts/sea-measure.mjs [--runs 30]
// Builds one SEA per mode from dist/ (run `npm run build` first), then times, paired and interleaved
// with `node -e 0`: `--version` (the entry only), and `agent --help` (the heavy half loaded). Prints
// medians and the median of the paired ratios. NODE_EXTRA_CA_CERTS is unset for the runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildSea } from './sea-build.mjs';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
function time(file, args) {
  const t0 = performance.now();
  const r = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return ms;
}

const work = mkdtempSync(join(tmpdir(), 'ko-sea-measure-'));
try {
  const exes = {};
  for (const heavy of ['function', 'asset']) {
    const t0 = performance.now();
    const b = await buildSea({ distDir: 'dist', nodeBinary: process.execPath, out: join(work, `kubectl-oidc-${heavy}`), workDir: join(work, heavy), heavy });
    exes[heavy] = b.out;
    console.log(`${heavy}: script ${(b.scriptBytes / 1024).toFixed(0)} KiB, blob ${(b.blobBytes / 1024).toFixed(0)} KiB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const [label, args] of [['--version', ['--version']], ['agent --help (loads the heavy half)', ['agent', '--help']]]) {
    const t = { node: [], function: [], asset: [] };
    const ratio = { function: [], asset: [] };
    for (let i = -3; i < RUNS; i++) {
      const order = i % 2 ? ['node', 'function', 'asset'] : ['asset', 'function', 'node'];
      const got = {};
      for (const k of order) got[k] = k === 'node' ? time(process.execPath, ['-e', '0']) : time(exes[k], args);
      if (i < 0) continue;
      for (const k of order) t[k].push(got[k]);
      for (const k of ['function', 'asset']) ratio[k].push(got[k] / got.node);
    }
    console.log(`${label}: node -e 0 ${median(t.node).toFixed(1)} ms; ` + ['function', 'asset'].map((k) => `${k} ${median(t[k]).toFixed(1)} ms (paired ratio ${median(ratio[k]).toFixed(3)})`).join('; '));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
