import type { ErrorCode } from '../errors.js';
import type { ApiVersion } from '../exec-credential.js';
import { VERSION } from '../version.js';
import { PROTOCOL_VERSION } from './version.js';

/*
 * Client <-> agent frames: one request per connection, newline-delimited JSON, size-capped.
 * The agent may send any number of `notice` frames before exactly one final frame: the reply
 * for the request's op, or an error. The client builds requests and reads replies (frames.ts);
 * the agent reads requests (agent/request.ts). Types only, and what both sides must agree on.
 */

export const MAX_FRAME_BYTES = 256 * 1024;

/** The caller's environment the agent may use for this request (a daemon keeps the env of whoever started it). */
export const FORWARDED_ENV = [
  'BROWSER', 'DISPLAY', 'WAYLAND_DISPLAY', 'XDG_RUNTIME_DIR', 'XAUTHORITY', 'DBUS_SESSION_BUS_ADDRESS',
  'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy', 'NODE_EXTRA_CA_CERTS',
  // Where kubelogin keeps its sessions for this caller (one may be taken over).
  'KUBECACHEDIR',
] as const;

/**
 * The caller's settings that a get-token command line may depend on (read by the agent when it parses
 * the flags: `~` in paths, the secret and password forms that keep them out of argv, --debug).
 */
export const EXEC_ENV = ['HOME', 'KUBECTL_OIDC_CLIENT_SECRET', 'KUBECTL_OIDC_PASSWORD', 'KUBECTL_OIDC_DEBUG'] as const;
/** What of the caller's environment a token request carries: FORWARDED_ENV and EXEC_ENV. */
export const EXEC_REQUEST_ENV: readonly string[] = [...FORWARDED_ENV, ...EXEC_ENV];

export interface Envelope {
  v: number;
  version: string;
}

/** The one place a request gets its envelope: `{ ...envelope(), op: 'status' }`. */
export function envelope(): Envelope {
  return { v: PROTOCOL_VERSION, version: VERSION };
}

/** The per-cluster settings kubectl passed with provideClusterInfo (KUBERNETES_EXEC_INFO spec.cluster). */
export interface ExecCluster {
  /** spec.cluster.config: the cluster's `client.authentication.k8s.io/exec` extension. */
  config?: unknown;
  /** spec.cluster.certificate-authority-data. */
  caData?: string;
}

/**
 * The one request for a token, from get-token and login: a get-token command line as it is. The agent
 * parses it (agent/request.ts), so the client that kubectl starts on every command does nothing but ask
 * and print. `cluster` is what kubectl passed; `env`, the forwarded network settings and EXEC_ENV.
 * `interactive`: a login may ask the person (login: always). `idToken`: answer with the ID token even
 * under --oidc-use-access-token (login shows whose token it is).
 */
export type ExecRequest = Envelope & {
  op: 'exec';
  argv: string[];
  cwd: string;
  cluster: ExecCluster;
  apiVersion: ApiVersion;
  interactive: boolean;
  env: Record<string, string>;
  idToken?: true;
};

/**
 * Parsed settings (lib/flags/table.ts's ProviderConfig, UiConfig, CacheConfig) as JSON objects: the agent
 * parses them again as it would flags. The wire does not depend on the flags' types.
 */
type Settings = object;

/**
 * `env`: the caller's network settings (proxies), for the revocation request. `ui`: for its username
 * and extra params, which with the provider name the session (the client leaves the password out).
 */
export type LogoutRequest = Envelope & { op: 'logout'; provider: Settings; ui: Settings; cache: Settings; env: Record<string, string> };
/**
 * Every session this process and the token files know. Sessions found only on disk are revoked with
 * the issuer and client named in their ID token, trusting the system roots and `caFiles`/`caData`.
 */
export type LogoutAllRequest = Envelope & { op: 'logout-all'; cacheDirs: string[]; caFiles: string[]; caData: string[]; env: Record<string, string> };
/** `cacheDirs`: token-file dirs to list besides the default one and the sessions' own. */
export type StatusRequest = Envelope & { op: 'status'; cacheDirs: string[] };
export type PingRequest = Envelope & { op: 'ping' };
export type StopRequest = Envelope & { op: 'stop' };
export type Request = ExecRequest | LogoutRequest | LogoutAllRequest | StatusRequest | PingRequest | StopRequest;

export interface AgentInfo {
  pid: number;
  version: string;
  /** Absent from agents older than this field. */
  protocol?: number;
}

/** What status shows of a session: never a token. */
export interface SessionStatus {
  key: string;
  issuerUrl: string;
  clientId: string;
  /** --session-name and --username of a session the agent holds (a token file records neither). */
  sessionName?: string;
  username?: string;
  storage: string;
  /** For a session found in a token file: the file's dir. */
  cacheDir?: string;
  subject?: string;
  email?: string;
  groups?: string[];
  expiresAt?: number;
  hasRefreshToken: boolean;
  nextRefreshAt?: number;
  busy: boolean;
  /** In this process's memory (false: only found in a token file). */
  held: boolean;
}

export interface LogoutResult {
  /** Places the session was removed from (agent memory, a file, the keyring item). */
  cleared: string[];
  /** Places that could not be checked; a logout with problems is not a success. */
  problems: string[];
  /** Things worth saying that are not failures (no keyring exists here, so none was checked). */
  notes: string[];
  /** Refresh tokens revoked at the issuer (where: the issuer URL). */
  revoked: string[];
  /** Refresh tokens that could not be revoked, and why: they were still forgotten here. */
  notRevoked: string[];
}

export type TokenReply = { t: 'token'; token: string; expiresAt: number };
export type LogoutReply = { t: 'logged-out' } & LogoutResult;
/** `agent` is absent when no agent answered: the sessions were read from the token files. */
export type StatusReply = { t: 'status'; agent?: AgentInfo; sessions: SessionStatus[]; notes: string[] };
export type PongReply = { t: 'pong'; agent: AgentInfo };
export type StoppingReply = { t: 'stopping' };
export type Reply = TokenReply | LogoutReply | StatusReply | PongReply | StoppingReply;

/** The reply to each op: a request as sent, or as the agent parsed it (same ops). */
export interface RepliesByOp {
  exec: TokenReply;
  logout: LogoutReply;
  'logout-all': LogoutReply;
  status: StatusReply;
  ping: PongReply;
  stop: StoppingReply;
}
export type ReplyFor<R extends { op: keyof RepliesByOp }> = RepliesByOp[R['op']];

/** The person behind a request, as the agent reaches them: lines on their stderr, and questions on their terminal. */
export interface Caller {
  notify(message: string): void;
  /** A line typed at the caller's terminal (/dev/tty, never stdin: kubectl owns it), or null when there is none. */
  prompt(message: string, secret: boolean): Promise<string | null>;
}

/** `agentVersion` and `agentProtocol` come with E_VERSION_MISMATCH: the client decides from them whether to replace the agent. */
export type ErrorFrame = { t: 'error'; code: ErrorCode; message: string; hint?: string; agentVersion?: string; agentProtocol?: number };
export type NoticeFrame = { t: 'notice'; message: string };
/** The agent asks the person at the caller's terminal (a code to paste, a password); the client answers with an AnswerFrame. */
export type PromptFrame = { t: 'prompt'; id: number; message: string; secret: boolean };
export type AnswerFrame = { t: 'answer'; id: number; value: string | null };
export type Frame = Reply | ErrorFrame | NoticeFrame | PromptFrame;
