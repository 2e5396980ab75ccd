/**
 * Start N copies of one command as fast as possible and report, as JSON on stdout, each one's exit
 * code, output and time from the first spawn.
 *
 *   echo '{"file":"/usr/bin/node","args":[...],"env":{...},"n":200,"timeoutMs":120000}' | node launcher.js
 *
 * It runs in a process of its own because spawning hundreds of children blocks the spawning process's
 * event loop for many seconds on 2 cores (each fork of a large process gets slower as the children
 * already started take the CPU). The bench process hosts the test issuer: blocked there, the issuer
 * would time out the very refresh being measured.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface LaunchJob {
  file: string;
  args: string[];
  env: Record<string, string>;
  n: number;
  timeoutMs: number;
}

export interface LaunchResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** From the first spawn to this child's exit. */
  endMs: number;
  /** From this child's own spawn to its exit. */
  ms: number;
  stdout: string;
  stderr: string;
}

export interface LaunchReport {
  /** From the first spawn to the last spawn() call returning. */
  spawnMs: number;
  /** From the first spawn to the last exit. */
  wallMs: number;
  results: LaunchResult[];
}

function runJob(job: LaunchJob): Promise<LaunchReport> {
  const t0 = performance.now();
  const runs: Promise<LaunchResult>[] = [];
  for (let i = 0; i < job.n; i++) {
    runs.push(
      new Promise((resolve) => {
        const started = performance.now();
        const child = spawn(job.file, job.args, { env: job.env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, job.timeoutMs);
        let exitAt = NaN;
        child.once('exit', () => (exitAt = performance.now()));
        child.once('error', (err) => {
          clearTimeout(timer);
          resolve({ code: null, signal: null, timedOut, endMs: performance.now() - t0, ms: performance.now() - started, stdout, stderr: `spawn failed: ${err.message}` });
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, timedOut, endMs: exitAt - t0, ms: exitAt - started, stdout, stderr });
        });
      }),
    );
  }
  const spawnMs = performance.now() - t0;
  return Promise.all(runs).then((results) => ({ spawnMs, wallMs: Math.max(...results.map((r) => r.endMs)), results }));
}

async function main(): Promise<void> {
  let input = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) input += chunk as string;
  const report = await runJob(JSON.parse(input) as LaunchJob);
  process.stdout.write(JSON.stringify(report));
}

main().catch((err: unknown) => {
  process.stderr.write(`launcher: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
