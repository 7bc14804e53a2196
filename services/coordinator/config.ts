import Type from 'typebox'
import { DEFAULT_TRACE_TXNS, MAX_TRACE_TXNS } from '../../shared/io/trace/trace-ring.ts'
import { limits } from '../../shared/core/protocol/messages.ts'
import { ConfigError, loadConfig } from '../../shared/io/runtime/config.ts'
import { parseNodeList, type NamedUrl } from '../../shared/io/runtime/node-list.ts'
import { parseCoordinators } from '../../shared/io/runtime/coordinator-list.ts'
import { COORDINATOR_NODE } from '../../shared/core/protocol/messages.ts'
import { COORDINATOR_NAME_PATTERN } from '../../shared/core/protocol/tx-id.ts'
import { loadTls, type TlsMaterial } from '../../shared/io/runtime/tls.ts'
import { parseAccessTokens, requireTokensOffLoopback, type AccessTokens } from '../../shared/io/runtime/access-tokens.ts'

/** The largest body whose PREPARE still fits in one frame (64 KiB left for the message around the writes). */
export const MAX_BODY_LIMIT_BYTES = limits.maxFrameBytes - 64 * 1024

const Schema = Type.Object(
  {
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
    dataDir: Type.String({ minLength: 1, default: './data/coordinator' }),
    token: Type.String({ minLength: 8 }),
    participants: Type.String({ minLength: 1 }),
    voteTimeoutMs: Type.Integer({ minimum: 1, maximum: 600000, default: 2000 }),
    minTimeoutMs: Type.Integer({ minimum: 1, default: 10 }),
    maxTimeoutMs: Type.Integer({ minimum: 1, default: 60000 }),
    readTimeoutMs: Type.Integer({ minimum: 1, default: 5000 }),
    maxInFlight: Type.Integer({ minimum: 1, default: 10000 }),
    retentionMs: Type.Integer({ minimum: 0, default: 600000 }),
    gcIntervalMs: Type.Integer({ minimum: 10, default: 10000 }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1048576 }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    failpoints: Type.String({ default: '' }),
    checkInvariants: Type.Boolean({ default: false }),
    traceTxns: Type.Integer({ minimum: 0, maximum: MAX_TRACE_TXNS, default: DEFAULT_TRACE_TXNS }),
    commitProtocol: Type.Union([Type.Literal('2pc'), Type.Literal('paxos-commit')], { default: '2pc' }),
    id: Type.String({ default: COORDINATOR_NODE }),
    coordinators: Type.String({ default: '' }),
    clientTokens: Type.String({ default: '' }),
    adminToken: Type.String({ default: '' }),
    tlsCert: Type.String({ default: '' }),
    tlsKey: Type.String({ default: '' }),
    tlsCa: Type.String({ default: '' }),
    // An http(s) URL without credentials in it (they would show in error messages): the token is the caller's.
    chaosUrl: Type.String({ default: '', pattern: '^(https?://[^/@\\s]+(/\\S*)?)?$' }),
  },
  { additionalProperties: false },
)

/** Environment variable of each setting; the README's configuration table lists the same. */
export const coordinatorEnv = {
  host: 'COORDINATOR_HOST',
  port: 'COORDINATOR_PORT',
  dataDir: 'DATA_DIR',
  token: 'CLUSTER_TOKEN',
  participants: 'PARTICIPANTS',
  voteTimeoutMs: 'VOTE_TIMEOUT_MS',
  minTimeoutMs: 'MIN_TIMEOUT_MS',
  maxTimeoutMs: 'MAX_TIMEOUT_MS',
  readTimeoutMs: 'READ_TIMEOUT_MS',
  maxInFlight: 'MAX_IN_FLIGHT',
  retentionMs: 'OUTCOME_RETENTION_MS',
  gcIntervalMs: 'GC_INTERVAL_MS',
  bodyLimitBytes: 'BODY_LIMIT_BYTES',
  logLevel: 'LOG_LEVEL',
  failpoints: 'TXN_FAILPOINTS',
  checkInvariants: 'CHECK_INVARIANTS',
  traceTxns: 'TRACE_TXNS',
  commitProtocol: 'COMMIT_PROTOCOL',
  id: 'COORDINATOR_ID',
  coordinators: 'COORDINATORS',
  clientTokens: 'CLIENT_TOKENS',
  adminToken: 'ADMIN_TOKEN',
  tlsCert: 'TLS_CERT',
  tlsKey: 'TLS_KEY',
  tlsCa: 'TLS_CA',
  chaosUrl: 'CHAOS_URL',
} as const

export interface CoordinatorConfig {
  host: string
  port: number
  dataDir: string
  token: string
  participants: NamedUrl[]
  voteTimeoutMs: number
  minTimeoutMs: number
  maxTimeoutMs: number
  readTimeoutMs: number
  maxInFlight: number
  retentionMs: number
  gcIntervalMs: number
  bodyLimitBytes: number
  logLevel: string
  failpoints: string
  checkInvariants: boolean
  /** TRACE_TXNS: how many recent transactions this node keeps a trace of (GET /v1/trace/:txId, the console); 0: off. */
  traceTxns: number
  /** CHAOS_URL: the chaos API the console's fault buttons go through (GET/POST /v1/chaos/…); empty: none. */
  chaosUrl: string
  /** '2pc': this coordinator decides. 'paxos-commit': the participants choose, as acceptors (they need PEERS). */
  commitProtocol: '2pc' | 'paxos-commit'
  /** This coordinator's name: in its transaction ids, its logs, and the `?coordinator=` of its links. */
  id: string
  /** Every coordinator, this one included, in the same order on every node (the order gives each its ballots). */
  coordinators: string[]
  /** Bearer tokens of the client API (CLIENT_TOKENS) and of /v1/status (ADMIN_TOKEN); none: open. */
  access: AccessTokens
  /** TLS_CERT, TLS_KEY, TLS_CA: HTTPS, and wss:// links verified against the CA; absent: plain. */
  tls?: TlsMaterial
}

export function loadCoordinatorConfig(env: NodeJS.ProcessEnv): CoordinatorConfig {
  const c = loadConfig(Schema, env, coordinatorEnv)
  if (c.minTimeoutMs > c.voteTimeoutMs || c.voteTimeoutMs > c.maxTimeoutMs) {
    throw new ConfigError('invalid configuration: need MIN_TIMEOUT_MS <= VOTE_TIMEOUT_MS <= MAX_TIMEOUT_MS')
  }
  // A body becomes one PREPARE message, which must fit in one frame with room for its envelope.
  if (c.bodyLimitBytes > MAX_BODY_LIMIT_BYTES) {
    throw new ConfigError(`invalid configuration: BODY_LIMIT_BYTES must be <= ${MAX_BODY_LIMIT_BYTES} (a PREPARE must fit in one ${limits.maxFrameBytes}-byte frame) (got ${c.bodyLimitBytes})`)
  }
  if (!COORDINATOR_NAME_PATTERN.test(c.id)) {
    throw new ConfigError(`invalid configuration: COORDINATOR_ID must be a coordinator name, ${COORDINATOR_NAME_PATTERN.source} (got ${JSON.stringify(c.id)})`)
  }
  const coordinators = parseCoordinators(c.coordinators === '' ? c.id : c.coordinators)
  if (!coordinators.includes(c.id)) {
    throw new ConfigError(`invalid configuration: COORDINATORS (${coordinators.join(',')}) must list this coordinator's COORDINATOR_ID (${c.id})`)
  }
  const access = parseAccessTokens(c.clientTokens, c.adminToken)
  requireTokensOffLoopback(c.host, 'COORDINATOR_HOST', access, ['CLIENT_TOKENS', 'ADMIN_TOKEN'])
  const tls = loadTls({ cert: c.tlsCert, key: c.tlsKey, ca: c.tlsCa })
  const { clientTokens: _c, adminToken: _a, tlsCert: _tc, tlsKey: _tk, tlsCa: _ta, ...rest } = c
  return Object.freeze({ ...rest, participants: parseParticipants(c.participants), coordinators, access, ...(tls ? { tls } : {}) })
}

/** PARTICIPANTS: "p1=ws://127.0.0.1:7001,p2=ws://…" → named WebSocket URLs. */
export function parseParticipants(spec: string): NamedUrl[] {
  return parseNodeList(spec, 'PARTICIPANTS')
}
