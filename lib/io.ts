import type { Caller, Reply, Request } from './protocol/wire.js';

/** Everything a command touches of the outside world; tests pass their own. */
export interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** Whether stdin is a terminal; asked only when kubectl did not say (node:tty costs milliseconds to load). */
  stdinIsTTY(): Promise<boolean>;
  /** Only the command's own output: for get-token, the ExecCredential and nothing else. */
  stdout(text: string): void;
  /** Everything for people. */
  stderr(text: string): void;
  /** The program and arguments that run `kubectl-oidc`; `agent --daemon` is appended to start the agent. */
  self: string[];
  /** Ask the person at the terminal; default: /dev/tty (tests may answer instead). */
  prompt?: Caller['prompt'];
  /** The OS the transport decides for; default process.platform (tests pass another). */
  platform?: NodeJS.Platform;
  /** Loads the heavy half (the agent's request handler, the OIDC stack, the stores) for work in this process. */
  loadInProcess(): Promise<InProcess>;
}

export interface InProcess {
  /** The agent's request handler, run in this process: the same answers, or the same errors, as over the socket. */
  handleInProcess(req: Request, caller: Caller, env: Record<string, string | undefined>): Promise<Reply>;
}
