import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { makeCerts, tlsEnv } from '../../../helpers/certs.ts'
import { loadCoordinatorConfig, MAX_BODY_LIMIT_BYTES, parseParticipants } from '../../../../services/coordinator/config.ts'
import { loadParticipantConfig } from '../../../../services/participant/config.ts'

const base = { CLUSTER_TOKEN: 'sekrit-token', PARTICIPANTS: 'p1=ws://127.0.0.1:7001,p2=ws://127.0.0.1:7002/v1/peer' }

t.test('coordinator configuration: defaults, conversion, frozen', async (t) => {
  const c = loadCoordinatorConfig({ ...base, VOTE_TIMEOUT_MS: '1500', LOG_LEVEL: 'debug' })
  t.match(c, { host: '127.0.0.1', port: 8080, voteTimeoutMs: 1500, logLevel: 'debug', maxInFlight: 10000 })
  t.same(c.participants, [{ name: 'p1', url: 'ws://127.0.0.1:7001' }, { name: 'p2', url: 'ws://127.0.0.1:7002/v1/peer' }])
  t.ok(Object.isFrozen(c))
})

t.test('a bad configuration fails with one line naming the variable', async (t) => {
  t.throws(() => loadCoordinatorConfig({}), /^invalid configuration: CLUSTER_TOKEN, PARTICIPANTS must be set$/)
  t.throws(() => loadCoordinatorConfig({ ...base, COORDINATOR_PORT: 'eighty' }), /COORDINATOR_PORT must be integer \(got "eighty"\)/)
  t.throws(() => loadCoordinatorConfig({ ...base, LOG_LEVEL: 'loud' }), /LOG_LEVEL/)
  t.throws(() => loadCoordinatorConfig({ ...base, VOTE_TIMEOUT_MS: '5', MIN_TIMEOUT_MS: '10' }), /MIN_TIMEOUT_MS <= VOTE_TIMEOUT_MS <= MAX_TIMEOUT_MS/)
  t.throws(() => parseParticipants('p1=http://x'), /PARTICIPANTS entry "p1=http:\/\/x" is not name=ws:\/\/host:port/)
  t.throws(() => parseParticipants('p1=ws://a:1,p1=ws://b:2'), /duplicate name/)
  t.throws(() => loadCoordinatorConfig({ ...base, BODY_LIMIT_BYTES: String(MAX_BODY_LIMIT_BYTES + 1) }), /^invalid configuration: BODY_LIMIT_BYTES must be <= 8323072 \(a PREPARE must fit in one 8388608-byte frame\) \(got 8323073\)$/)
  t.equal(loadCoordinatorConfig({ ...base, BODY_LIMIT_BYTES: String(MAX_BODY_LIMIT_BYTES) }).bodyLimitBytes, MAX_BODY_LIMIT_BYTES, 'the largest body that fits is accepted')
  t.throws(() => loadCoordinatorConfig({ ...base, CHECK_INVARIANTS: 'maybe' }), /^invalid configuration: CHECK_INVARIANTS must be boolean \(got "maybe"\)$/)
  t.equal(loadCoordinatorConfig({ ...base, CHECK_INVARIANTS: '1' }).checkInvariants, true)
  for (const written of ['8080.5', '0x1F90', '1e3', 'true', ' 8080', '08080', '+8080', '']) {
    if (written === '') continue // empty is unset: the default
    t.throws(() => loadCoordinatorConfig({ ...base, COORDINATOR_PORT: written }), new RegExp(`^invalid configuration: COORDINATOR_PORT must be integer \\(got ${JSON.stringify(JSON.stringify(written)).slice(1, -1).replace(/[.+]/g, '\\$&')}\\)$`), `"${written}" is not read as a number`)
  }
  t.equal(loadCoordinatorConfig({ ...base, COORDINATOR_PORT: '8081' }).port, 8081)
  t.equal(loadCoordinatorConfig({ ...base, CHAOS_URL: 'http://chaos:8090' }).chaosUrl, 'http://chaos:8090')
  t.equal(loadCoordinatorConfig(base).chaosUrl, '', 'no chaos API unless set')
  for (const bad of ['ftp://chaos:8090', 'http://admin:pw@chaos:8090', 'chaos:8090']) t.throws(() => loadCoordinatorConfig({ ...base, CHAOS_URL: bad }), /^invalid configuration: CHAOS_URL must match pattern/, `CHAOS_URL ${bad} refused (credentials would show in its error messages)`)
  t.throws(() => loadCoordinatorConfig({ ...base, CHAOS_URL: 'http://admin:pw@chaos:8090' }), /\(got a URL with credentials in it, not shown\)$/, 'and the refusal does not show them')
  t.equal(loadCoordinatorConfig({ ...base, TRACE_TXNS: '0' }).traceTxns, 0, 'TRACE_TXNS=0: tracing off')
  t.throws(() => loadCoordinatorConfig({ ...base, TRACE_TXNS: '100001' }), /TRACE_TXNS/)
  t.equal(loadParticipantConfig({ PARTICIPANT_ID: 'p9', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token', READ_WAIT_MS: '-0' }).readWaitMs, 0, 'a minus sign is allowed where the range allows it')
  t.throws(() => loadCoordinatorConfig({ ...base, CLUSTER_TOKEN: 'short' }), /^invalid configuration: CLUSTER_TOKEN must not have fewer than 8 characters \(got a value of 5 characters\)$/, 'a token is never echoed')
})

t.test('participant configuration', async (t) => {
  t.match(loadParticipantConfig({ PARTICIPANT_ID: 'p9', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token' }), { id: 'p9', port: 7001, readWaitMs: 2000 })
  t.throws(() => loadParticipantConfig({ PARTICIPANT_ID: 'bad id!', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token' }), /PARTICIPANT_ID/)
})

t.test('COMMIT_PROTOCOL and PEERS: Paxos Commit needs every participant listed, this one included', async (t) => {
  const p = { PARTICIPANT_ID: 'p2', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token' }
  const peers = 'p1=ws://127.0.0.1:7001,p2=ws://127.0.0.1:7002,p3=ws://127.0.0.1:7003'
  t.match(loadParticipantConfig(p), { commitProtocol: '2pc', peers: [], recoveryAfterMs: 1000 })
  const paxos = loadParticipantConfig({ ...p, COMMIT_PROTOCOL: 'paxos-commit', PEERS: peers, RECOVERY_AFTER_MS: '250' })
  t.same(paxos.peers.map((x) => x.name), ['p1', 'p2', 'p3'], 'in the order given: it gives each its ballots')
  t.equal(paxos.recoveryAfterMs, 250)
  t.throws(() => loadParticipantConfig({ ...p, COMMIT_PROTOCOL: 'paxos-commit' }), /^invalid configuration: under COMMIT_PROTOCOL=paxos-commit, PEERS must list every participant, p2 included$/)
  t.throws(() => loadParticipantConfig({ ...p, COMMIT_PROTOCOL: 'paxos-commit', PEERS: 'p2=ws://127.0.0.1:7002' }), /^invalid configuration: Paxos Commit needs at least 2 participants in PEERS$/)
  t.throws(() => loadParticipantConfig({ ...p, PEERS: 'p2=http://x' }), /^invalid configuration: PEERS entry "p2=http:\/\/x" is not name=ws:\/\/host:port$/)
  t.throws(() => loadParticipantConfig({ ...p, COMMIT_PROTOCOL: '3pc' }), /COMMIT_PROTOCOL/)
  t.equal(loadCoordinatorConfig({ ...base, COMMIT_PROTOCOL: 'paxos-commit' }).commitProtocol, 'paxos-commit')
  t.equal(loadCoordinatorConfig(base).commitProtocol, '2pc', 'classic 2PC stays the default until Paxos Commit meets its figures in the services')
})

t.test('COORDINATOR_ID and COORDINATORS: one name each, this one among them', async (t) => {
  t.match(loadCoordinatorConfig(base), { id: 'coordinator', coordinators: ['coordinator'] }, 'one coordinator, unnamed in its transaction ids')
  t.match(loadCoordinatorConfig({ ...base, COORDINATOR_ID: 'c2' }), { id: 'c2', coordinators: ['c2'] }, 'COORDINATORS defaults to this one')
  t.match(loadCoordinatorConfig({ ...base, COORDINATOR_ID: 'c2', COORDINATORS: 'c1, c2' }), { id: 'c2', coordinators: ['c1', 'c2'] })
  t.throws(() => loadCoordinatorConfig({ ...base, COORDINATOR_ID: 'c3', COORDINATORS: 'c1,c2' }), /^invalid configuration: COORDINATORS \(c1,c2\) must list this coordinator's COORDINATOR_ID \(c3\)$/)
  t.throws(() => loadCoordinatorConfig({ ...base, COORDINATOR_ID: 'C1' }), /^invalid configuration: COORDINATOR_ID must be a coordinator name, .* \(got "C1"\)$/)
  t.throws(() => loadCoordinatorConfig({ ...base, COORDINATOR_ID: 'c1', COORDINATORS: 'c1,c1' }), /duplicate/)
})

t.test('tokens and TLS reach each node\'s configuration, never as the raw variables', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-config-tls-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  makeCerts(root, 'coordinator', 'p9')
  const c = loadCoordinatorConfig({ ...base, CLIENT_TOKENS: 'read:a-read-token-0123456789', ADMIN_TOKEN: 'an-admin-token-0123456', ...tlsEnv(root, 'coordinator') })
  t.same(c.access, [{ scope: 'read', token: 'a-read-token-0123456789' }, { scope: 'admin', token: 'an-admin-token-0123456' }])
  t.ok(c.tls?.cert.toString().includes('BEGIN CERTIFICATE'), 'TLS material, read')
  t.notOk('clientTokens' in c || 'adminToken' in c || 'tlsCert' in c, 'the raw variables are not kept')
  t.equal(loadCoordinatorConfig(base).tls, undefined, 'no TLS unless asked for')
  const p = loadParticipantConfig({ PARTICIPANT_ID: 'p9', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token', ADMIN_TOKEN: 'an-admin-token-0123456', ...tlsEnv(root, 'p9') })
  t.same(p.access, [{ scope: 'admin', token: 'an-admin-token-0123456' }])
  t.ok(p.tls?.key.toString().includes('PRIVATE KEY'), 'the participant\'s TLS material')
  t.throws(() => loadParticipantConfig({ PARTICIPANT_ID: 'p9', DATA_DIR: '/tmp/x', CLUSTER_TOKEN: 'sekrit-token', PARTICIPANT_HOST: '0.0.0.0' }), /PARTICIPANT_HOST=0\.0\.0\.0 listens beyond this machine, so ADMIN_TOKEN must be set/)
})
