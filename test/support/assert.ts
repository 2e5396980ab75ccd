import assert from 'node:assert/strict';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * A failure a person can read: the exit code given, nothing on stdout, no stack trace, no token, and
 * one `kubectl-oidc: ` line (plus an optional indented hint line). `afterNotices`: the login notices
 * a failed login printed first are allowed; the error is judged from the last `kubectl-oidc: ` line on.
 */
export function assertClearFailure(r: ProcessResult, code: number, pattern: RegExp, opts: { afterNotices?: boolean } = {}): void {
  assert.equal(r.code, code, `exit code; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  const error = opts.afterNotices ? r.stderr.slice(r.stderr.lastIndexOf('\nkubectl-oidc: ') + 1) : r.stderr;
  assert.match(error, pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /eyJ/, 'no token');
  const lines = error.trimEnd().split('\n');
  assert.equal(lines.filter((l) => l.startsWith('kubectl-oidc: ')).length, 1, `one error line: ${r.stderr}`);
  assert.ok(lines.length <= (opts.afterNotices ? 2 : 3), `a short message: ${error}`);
}
