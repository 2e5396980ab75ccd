import assert from 'node:assert/strict';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A failure a person can read: the exit code given, nothing on stdout, no stack trace, no token, and
 * the error as one `kubectl-oidc: ` line plus at most an indented hint line, last. Login notices may
 * come before it (a login that failed printed its URL first). `afterNotices`: the notices may include
 * other `kubectl-oidc: ` lines; the error is the last one, and `pattern` is matched against it alone.
 */
export function assertClearFailure(r: ProcessResult, code: number, pattern: RegExp, opts: { afterNotices?: boolean } = {}): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /eyJ/, 'no token');
  const lines = r.stderr.trimEnd().split('\n');
  const ours = lines.flatMap((l, i) => (l.startsWith('kubectl-oidc: ') ? [i] : []));
  if (!opts.afterNotices) assert.equal(ours.length, 1, `one error line: ${r.stderr}`);
  assert.ok(ours.length > 0, `an error line: ${r.stderr}`);
  const error = lines.slice(ours.at(-1));
  assert.match(opts.afterNotices ? error.join('\n') : r.stderr, pattern);
  assert.ok(error.length <= 2 && error.slice(1).every((l) => /^\s/.test(l)), `the error last, with at most a hint line: ${r.stderr}`);
}
