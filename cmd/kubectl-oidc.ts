#!/usr/bin/env node
/**
 * The one entry point: it only routes. get-token (run by kubectl on every command) stays on node:*
 * modules and talks to the agent; every other command lazily loads the heavy half (lib/main).
 */
import { writeSync } from 'node:fs';
import { exitCodeFor, isOidcError } from '../lib/errors.js';
import { redact } from '../lib/log.js';
import { getToken } from '../lib/commands/get-token.js';
import type { Io } from '../lib/io.js';
import { VERSION } from '../lib/version.js';
import { selfCommand } from '../lib/runtime.js';

const HELP = `kubectl-oidc ${VERSION}: OIDC login for kubectl

Usage: kubectl oidc COMMAND [flags]

Commands:
  get-token   print an ExecCredential with a verified ID token (kubectl runs this)
  setup       log in, then print the kube-apiserver settings and the kubeconfig user (--write-kubeconfig)
  login       log in now and say who you are (flags, or --context/--user from the kubeconfig)
  status      list the sessions: user, groups, expiry, refresh, storage (-o json)
  logout      revoke the refresh token and forget the session (or --all)
  agent       run or manage the per-user token agent (start, stop, status)

Examples:
  kubectl oidc setup --oidc-issuer-url=https://dex.example.com/dex --oidc-client-id=kubernetes --write-kubeconfig
  kubectl oidc login --context=prod
  kubectl oidc status -o json
  kubectl oidc logout --all

Put this in a kubeconfig user (kubelogin's flag names work unchanged):
  exec:
    apiVersion: client.authentication.k8s.io/v1
    command: kubectl-oidc
    args: [get-token, --oidc-issuer-url=https://dex.example.com/dex, --oidc-client-id=kubernetes]
    interactiveMode: IfAvailable

Run \`kubectl oidc COMMAND --help\` for a command's flags. Set KUBECTL_OIDC_DEBUG=1 (or --debug) for stack traces.
`;

const loadHeavy = () => import('../lib/main.js');

/** Straight to fd 1 (no stream set-up on the hot path); the stream only if the pipe is full. */
function writeStdout(text: string): void {
  try {
    writeSync(1, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    process.stdout.write(text);
  }
}

/** Whether anything went to stderr: then the process winds down in order, so that it all gets out. */
let spoke = false;

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  const io: Io = {
    argv: rest,
    env: process.env,
    cwd: process.cwd(),
    // isatty(0), not process.stdin.isTTY (building the stdin stream costs milliseconds), and only when
    // asked: node:tty loads node:net.
    stdinIsTTY: async () => (await import('node:tty')).isatty(0),
    stdout: writeStdout,
    stderr: (t) => {
      spoke = true;
      process.stderr.write(redact(t));
    },
    self: selfCommand(),
    loadInProcess: loadHeavy,
  };
  switch (cmd) {
    case 'get-token':
      return getToken(io);
    case '--version':
    case 'version':
      io.stdout(`kubectl-oidc ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      return (await loadHeavy()).runCommand(cmd, io);
  }
}

/**
 * A command whose promise never settles would let the runtime exit 0 with nothing printed once the event
 * loop is empty (kubectl then reads an empty credential): make that a failure that says so.
 */
let settled = false;
process.once('exit', () => {
  if (settled) return;
  try {
    writeSync(2, 'kubectl-oidc: internal error: the command ended without an answer\n');
  } catch {}
  process.exitCode = 1;
});

/**
 * An error thrown outside the command's promise (an 'error' event nobody handles, a rejected promise
 * nobody awaits) would otherwise reach stderr as the runtime's stack trace, with source excerpts under
 * Bun: one line instead, the stack only with KUBECTL_OIDC_DEBUG, exit 1.
 */
const stray = (err: unknown) => {
  settled = true;
  const debug = process.env.KUBECTL_OIDC_DEBUG === '1' || process.argv.includes('--debug');
  try {
    writeSync(2, redact(`kubectl-oidc: internal error: ${(err as Error)?.message ?? String(err)}\n`));
    writeSync(2, debug ? redact(`${(err as Error)?.stack}\n`) : '  run again with KUBECTL_OIDC_DEBUG=1 for details\n');
  } catch {}
  process.exit(1);
};
process.on('uncaughtException', stray);
process.on('unhandledRejection', stray);

main().then(
  (code) => {
    settled = true;
    // get-token's credential went out with a synchronous write and nothing else is pending: leave now,
    // rather than wait for the event loop to close the agent connection and wind down (a few ms a call).
    if (code === 0 && !spoke && process.argv[2] === 'get-token') process.exit(0);
    process.exitCode = code;
    // The answer is out. A stuck native keyring call must not keep kubectl waiting for this process.
    setTimeout(() => process.exit(), 3_000).unref();
  },
  (err: unknown) => {
    settled = true;
    const debug = process.env.KUBECTL_OIDC_DEBUG === '1' || process.argv.includes('--debug');
    if (isOidcError(err)) {
      process.stderr.write(redact(`kubectl-oidc: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`));
      if (debug && err.stack) process.stderr.write(redact(`${err.stack}\n`));
      process.exitCode = exitCodeFor(err.code);
    } else {
      process.stderr.write(redact(`kubectl-oidc: internal error: ${(err as Error)?.message ?? String(err)}\n`));
      process.stderr.write(debug ? redact(`${(err as Error)?.stack}\n`) : '  run again with KUBECTL_OIDC_DEBUG=1 for details\n');
      process.exitCode = 1;
    }
  },
);
