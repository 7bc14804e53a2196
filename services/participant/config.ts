import Type from 'typebox'
import { DEFAULT_TRACE_TXNS, MAX_TRACE_TXNS } from '../../shared/io/trace/trace-ring.ts'
import { ConfigError, loadConfig } from '../../shared/io/runtime/config.ts'
import { parseNodeList } from '../../shared/io/runtime/node-list.ts'
import { parseCoordinators } from '../../shared/io/runtime/coordinator-list.ts'
import { COORDINATOR_NODE } from '../../shared/core/protocol/messages.ts'
import { loadTls } from '../../shared/io/runtime/tls.ts'
import { parseAccessTokens, requireTokensOffLoopback } from '../../shared/io/runtime/access-tokens.ts'

const Schema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[\\w-]+$' }),
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 7001 }),
    dataDir: Type.String({ minLength: 1 }),
    token: Type.String({ minLength: 8 }),
    readWaitMs: Type.Integer({ minimum: 0, default: 2000 }),
    sweepIntervalMs: Type.Integer({ minimum: 10, default: 500 }),
    queryAfterMs: Type.Integer({ minimum: 0, default: 1000 }),
    retentionMs: Type.Integer({ minimum: 0, default: 600000 }),
    maxRemembered: Type.Integer({ minimum: 0, default: 100000 }),
    applyLingerMs: Type.Integer({ minimum: 0, maximum: 1000, default: 5 }),
    cacheMb: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 64 }),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
    failpoints: Type.String({ default: '' }),
    checkInvariants: Type.Boolean({ default: false }),
    traceTxns: Type.Integer({ minimum: 0, maximum: MAX_TRACE_TXNS, default: DEFAULT_TRACE_TXNS }),
    commitProtocol: Type.Union([Type.Literal('2pc'), Type.Literal('paxos-commit')], { default: '2pc' }),
    peers: Type.String({ default: '' }),
    recoveryAfterMs: Type.Integer({ minimum: 1, default: 1000 }),
    coordinators: Type.String({ default: COORDINATOR_NODE }),
    adminToken: Type.String({ default: '' }),
    tlsCert: Type.String({ default: '' }),
    tlsKey: Type.String({ default: '' }),
    tlsCa: Type.String({ default: '' }),
  },
  { additionalProperties: false },
)

export const participantEnv = {
  id: 'PARTICIPANT_ID',
  host: 'PARTICIPANT_HOST',
  port: 'PARTICIPANT_PORT',
  dataDir: 'DATA_DIR',
  token: 'CLUSTER_TOKEN',
  readWaitMs: 'READ_WAIT_MS',
  sweepIntervalMs: 'SWEEP_INTERVAL_MS',
  queryAfterMs: 'QUERY_AFTER_MS',
  retentionMs: 'RESOLVED_RETENTION_MS',
  maxRemembered: 'MAX_REMEMBERED',
  applyLingerMs: 'APPLY_LINGER_MS',
  cacheMb: 'CACHE_MB',
  logLevel: 'LOG_LEVEL',
  failpoints: 'TXN_FAILPOINTS',
  checkInvariants: 'CHECK_INVARIANTS',
  traceTxns: 'TRACE_TXNS',
  commitProtocol: 'COMMIT_PROTOCOL',
  peers: 'PEERS',
  recoveryAfterMs: 'RECOVERY_AFTER_MS',
  coordinators: 'COORDINATORS',
  adminToken: 'ADMIN_TOKEN',
  tlsCert: 'TLS_CERT',
  tlsKey: 'TLS_KEY',
  tlsCa: 'TLS_CA',
} as const

export type ParticipantConfig = ReturnType<typeof loadParticipantConfig>

/**
 * Under Paxos Commit, PEERS lists every participant (this one too) in the
 * coordinator's PARTICIPANTS order, the same on every node: the order gives
 * each its ballots. Each URL is that participant's HTTP port; its acceptor
 * endpoint is `/v1/acceptor` there. COORDINATORS names every coordinator,
 * in the same order on every node (the order gives each its ballots).
 */
export function loadParticipantConfig(env: NodeJS.ProcessEnv) {
  const c = loadConfig(Schema, env, participantEnv)
  const peers = c.peers === '' ? [] : parseNodeList(c.peers, 'PEERS')
  if (c.commitProtocol === 'paxos-commit') {
    if (!peers.some((p) => p.name === c.id)) throw new ConfigError(`invalid configuration: under COMMIT_PROTOCOL=paxos-commit, PEERS must list every participant, ${c.id} included`)
    if (peers.length < 2) throw new ConfigError('invalid configuration: Paxos Commit needs at least 2 participants in PEERS')
  }
  // The inspection endpoints need ADMIN_TOKEN (no client route is served here).
  const access = parseAccessTokens('', c.adminToken)
  requireTokensOffLoopback(c.host, 'PARTICIPANT_HOST', access, ['ADMIN_TOKEN'])
  // TLS: HTTPS on its port, and every peer endpoint there takes only certificates TLS_CA signed.
  const tls = loadTls({ cert: c.tlsCert, key: c.tlsKey, ca: c.tlsCa })
  const { adminToken: _a, tlsCert: _tc, tlsKey: _tk, tlsCa: _ta, ...rest } = c
  return Object.freeze({ ...rest, peers, coordinators: parseCoordinators(c.coordinators), access, tls })
}
