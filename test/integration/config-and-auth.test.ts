import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { abortReasons } from '../../shared/core/abort-reasons.ts'
import { apiErrors } from '../../shared/core/api-errors.ts'
import { freePort, nodeArgs, probe, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, LocalCluster, waitSettled, type TxnResponse } from '../helpers/cluster.ts'
import { PeerClient } from '../helpers/peer-client.ts'
import { expectError, nodeLogText, parseLog, type LogLine } from '../helpers/node-log.ts'

/**
 * Start-up configuration and the cluster token, against real processes (the
 * build in dist/ with TXN_RUNTIME=dist): a bad value in the environment stops
 * a node with one line naming the variable; a coordinator holding the wrong
 * token is refused by every participant, and its transactions abort.
 */

const TOKEN = 'config-and-auth-token'
const WRONG_TOKEN = 'not-the-cluster-token'

/** The JSON log of a LocalCluster node. */
const clusterLog = (cluster: LocalCluster, name: string): LogLine[] => parseLog(nodeLogText(cluster.options.dataRoot, name))

// ---- bad configuration --------------------------------------------------------------------------------------

interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs a node with exactly this environment (PATH aside: nothing inherited, so
 * an unset variable is unset) and waits for it to exit; fails if it is still
 * running after `timeoutMs`.
 */
async function runToExit(role: 'coordinator' | 'participant', env: Record<string, string>, timeoutMs = 60000): Promise<Exit> {
  const child = spawn(process.execPath, nodeArgs(role), { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  if (signal === 'SIGKILL') throw new Error(`${role} still running after ${timeoutMs} ms with ${JSON.stringify(env)}; stdout: ${stdout.slice(0, 500)}`)
  return { code, signal, stdout, stderr }
}

t.test('a bad configuration value stops the node at once: exit 1, one line on stderr naming the variable, nothing else', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-config-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  // Valid settings: each case spoils one of them. The ports are free, in case a node did start.
  const coordinator: Record<string, string> = {
    CLUSTER_TOKEN: TOKEN,
    PARTICIPANTS: `p1=ws://127.0.0.1:${await freePort()}/v1/peer`,
    DATA_DIR: join(root, 'coordinator'),
    COORDINATOR_HOST: '127.0.0.1',
    COORDINATOR_PORT: String(await freePort()),
  }
  const participant: Record<string, string> = {
    CLUSTER_TOKEN: TOKEN,
    PARTICIPANT_ID: 'p1',
    DATA_DIR: join(root, 'p1'),
    PARTICIPANT_HOST: '127.0.0.1',
    PARTICIPANT_PORT: String(await freePort()),
  }
  const without = (env: Record<string, string>, ...names: string[]): Record<string, string> => Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)))
  const cases: [string, 'coordinator' | 'participant', Record<string, string>, string, string[]][] = [
    ['a non-numeric port', 'coordinator', { ...coordinator, COORDINATOR_PORT: 'abc' }, 'invalid configuration: COORDINATOR_PORT must be integer (got "abc")', ['COORDINATOR_PORT']],
    ['a port out of range', 'coordinator', { ...coordinator, COORDINATOR_PORT: '70000' }, 'invalid configuration: COORDINATOR_PORT must be <= 65535 (got 70000)', ['COORDINATOR_PORT']],
    ['a non-numeric timeout', 'coordinator', { ...coordinator, VOTE_TIMEOUT_MS: 'fast' }, 'invalid configuration: VOTE_TIMEOUT_MS must be integer (got "fast")', ['VOTE_TIMEOUT_MS']],
    ['digits then letters', 'coordinator', { ...coordinator, READ_TIMEOUT_MS: '12abc' }, 'invalid configuration: READ_TIMEOUT_MS must be integer (got "12abc")', ['READ_TIMEOUT_MS']],
    ['MAX_IN_FLIGHT 0', 'coordinator', { ...coordinator, MAX_IN_FLIGHT: '0' }, 'invalid configuration: MAX_IN_FLIGHT must be >= 1 (got 0)', ['MAX_IN_FLIGHT']],
    ['a body limit too small', 'coordinator', { ...coordinator, BODY_LIMIT_BYTES: '1023' }, 'invalid configuration: BODY_LIMIT_BYTES must be >= 1024 (got 1023)', ['BODY_LIMIT_BYTES']],
    ['a body limit whose PREPARE would not fit in a frame', 'coordinator', { ...coordinator, BODY_LIMIT_BYTES: '8323073' }, 'invalid configuration: BODY_LIMIT_BYTES must be <= 8323072 (a PREPARE must fit in one 8388608-byte frame) (got 8323073)', ['BODY_LIMIT_BYTES']],
    ['a vote timeout below MIN_TIMEOUT_MS', 'coordinator', { ...coordinator, VOTE_TIMEOUT_MS: '5' }, 'invalid configuration: need MIN_TIMEOUT_MS <= VOTE_TIMEOUT_MS <= MAX_TIMEOUT_MS', ['VOTE_TIMEOUT_MS']],
    ['no cluster token', 'coordinator', without(coordinator, 'CLUSTER_TOKEN'), 'invalid configuration: CLUSTER_TOKEN must be set', ['CLUSTER_TOKEN']],
    ['an empty cluster token (empty is unset)', 'coordinator', { ...coordinator, CLUSTER_TOKEN: '' }, 'invalid configuration: CLUSTER_TOKEN must be set', ['CLUSTER_TOKEN']],
    ['a bad PARTICIPANTS entry', 'coordinator', { ...coordinator, PARTICIPANTS: 'p1' }, 'invalid configuration: PARTICIPANTS entry "p1" is not name=ws://host:port', ['PARTICIPANTS']],
    ['a boolean that is not one', 'coordinator', { ...coordinator, CHECK_INVARIANTS: 'yes' }, 'invalid configuration: CHECK_INVARIANTS must be boolean (got "yes")', ['CHECK_INVARIANTS']],
    ['a coordinator id not in COORDINATORS', 'coordinator', { ...coordinator, COORDINATOR_ID: 'c3', COORDINATORS: 'c1,c2' }, "invalid configuration: COORDINATORS (c1,c2) must list this coordinator's COORDINATOR_ID (c3)", ['COORDINATORS', 'COORDINATOR_ID']],
    ['a coordinator id that is no name', 'coordinator', { ...coordinator, COORDINATOR_ID: 'C 1' }, 'invalid configuration: COORDINATOR_ID must be a coordinator name, ^[a-z][a-z0-9-]{0,31}$ (got "C 1")', ['COORDINATOR_ID']],
    ['a duplicate coordinator', 'participant', { ...participant, COORDINATORS: 'c1,c1' }, 'invalid configuration: COORDINATORS has a duplicate name', ['COORDINATORS']],
    ['a non-numeric participant port', 'participant', { ...participant, PARTICIPANT_PORT: 'abc' }, 'invalid configuration: PARTICIPANT_PORT must be integer (got "abc")', ['PARTICIPANT_PORT']],
    ['a negative read wait', 'participant', { ...participant, READ_WAIT_MS: '-1' }, 'invalid configuration: READ_WAIT_MS must be >= 0 (got -1)', ['READ_WAIT_MS']],
    ['a linger over its maximum', 'participant', { ...participant, APPLY_LINGER_MS: '1001' }, 'invalid configuration: APPLY_LINGER_MS must be <= 1000 (got 1001)', ['APPLY_LINGER_MS']],
    ['no participant id', 'participant', without(participant, 'PARTICIPANT_ID'), 'invalid configuration: PARTICIPANT_ID must be set', ['PARTICIPANT_ID']],
    // Safe by default: reachable from other machines means tokens.
    ['a coordinator on 0.0.0.0 without tokens', 'coordinator', { ...coordinator, COORDINATOR_HOST: '0.0.0.0' }, 'invalid configuration: COORDINATOR_HOST=0.0.0.0 listens beyond this machine, so CLIENT_TOKENS and ADMIN_TOKEN must be set (or listen on 127.0.0.1)', ['COORDINATOR_HOST', 'CLIENT_TOKENS', 'ADMIN_TOKEN']],
    ['a coordinator on 0.0.0.0 with client tokens only', 'coordinator', { ...coordinator, COORDINATOR_HOST: '0.0.0.0', CLIENT_TOKENS: 'write:a-write-token-0123456789' }, 'invalid configuration: COORDINATOR_HOST=0.0.0.0 listens beyond this machine, so ADMIN_TOKEN must be set (or listen on 127.0.0.1)', ['ADMIN_TOKEN']],
    ['a participant on 0.0.0.0 without ADMIN_TOKEN', 'participant', { ...participant, PARTICIPANT_HOST: '0.0.0.0' }, 'invalid configuration: PARTICIPANT_HOST=0.0.0.0 listens beyond this machine, so ADMIN_TOKEN must be set (or listen on 127.0.0.1)', ['PARTICIPANT_HOST', 'ADMIN_TOKEN']],
    ['a client token without a scope', 'coordinator', { ...coordinator, CLIENT_TOKENS: 'write:a-write-token-0123456789,secret-token-without-scope' }, 'invalid configuration: CLIENT_TOKENS entry 2 must be read:<token> or write:<token>', ['CLIENT_TOKENS']],
    ['a short client token (not echoed)', 'coordinator', { ...coordinator, CLIENT_TOKENS: 'read:short-secret' }, 'invalid configuration: the token of CLIENT_TOKENS entry 1 must be at least 16 printable ASCII characters without spaces (got 12 characters)', ['CLIENT_TOKENS']],
    ['one token with two scopes', 'coordinator', { ...coordinator, CLIENT_TOKENS: 'read:the-same-token-0123456789', ADMIN_TOKEN: 'the-same-token-0123456789' }, 'invalid configuration: a token appears twice in CLIENT_TOKENS and ADMIN_TOKEN (each must have one scope)', ['CLIENT_TOKENS', 'ADMIN_TOKEN']],
  ]
  // Four at a time: each is a node start-up (a few seconds on a loaded machine), and none gets far enough to share anything.
  for (let i = 0; i < cases.length; i += 4) {
    const batch = cases.slice(i, i + 4)
    const exits = await Promise.all(batch.map(async ([, role, env], j) => runToExit(role, { ...env, DATA_DIR: join(root, `case-${i + j}`) })))
    for (const [j, [what, role, env, line, variables]] of batch.entries()) {
      const exit = exits[j]!
      t.same({ code: exit.code, signal: exit.signal }, { code: 1, signal: null }, `${role}, ${what}: exit code 1`)
      t.equal(exit.stderr, `${line}\n`, `${role}, ${what}: exactly one line on stderr`)
      for (const variable of variables) t.match(exit.stderr, variable, `${role}, ${what}: names ${variable}`)
      t.equal(exit.stdout, '', `${role}, ${what}: nothing on stdout (no log line, no listening)`)
      if (env.DATA_DIR !== undefined) t.notOk(existsSync(join(root, `case-${i + j}`)), `${role}, ${what}: its data directory was never created`)
    }
  }
})

t.test('a non-integer port is refused, not truncated', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'txn-config-port-'))
  const port = await freePort()
  const child = spawn(process.execPath, nodeArgs('coordinator'), {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', CLUSTER_TOKEN: TOKEN, PARTICIPANTS: `p1=ws://127.0.0.1:${await freePort()}/v1/peer`, DATA_DIR: dataDir, COORDINATOR_PORT: `${port}.5` },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  })
  const listening = async (): Promise<boolean> => (await probe(`http://127.0.0.1:${port}/healthz`)) === 200
  await waitFor(async () => child.exitCode !== null || (await listening()), 60000, 'the coordinator to exit or listen')
  t.equal(child.exitCode, 1, `COORDINATOR_PORT=${port}.5 is refused (the node ${(await listening()) ? `listens on ${port}` : 'exited'})`)
})

// ---- the cluster token --------------------------------------------------------------------------------------

t.test('a coordinator holding the wrong cluster token: every participant refuses it (401), transactions abort, the logs say why', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-token-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 2, token: TOKEN, env: { LOG_LEVEL: 'debug', CHECK_INVARIANTS: '1' }, nodeEnv: { coordinator: { CLUSTER_TOKEN: WRONG_TOKEN } } })
  t.teardown(async () => {
    await cluster.stopAll()
    if (process.env.KEEP_TEST_DATA === undefined) rmSync(dataRoot, { recursive: true, force: true })
    else t.comment(`test data kept in ${dataRoot}`)
  })
  for (const p of cluster.participantNames) await cluster.start(p)
  await cluster.start('coordinator') // /healthz: up, though connected to nobody
  const url = cluster.url
  const coordinatorLog = (): LogLine[] => clusterLog(cluster, 'coordinator')
  const refusedBy = (p: string) => (l: LogLine): boolean => l.msg === 'participant refused the connection' && l.participant === p

  // Refused again and again: the coordinator keeps dialling (backoff 50 ms doubling to 500 ms).
  for (const p of cluster.participantNames) {
    await waitFor(async () => coordinatorLog().filter(refusedBy(p)).length >= 3, 60000, `three refusals by ${p} in the coordinator's log`)
    t.same(coordinatorLog().filter(refusedBy(p)).map((l) => [l.level, l.status]), coordinatorLog().filter(refusedBy(p)).map(() => [50, 401]), `coordinator log: "participant refused the connection", ${p}, status 401, at error level`)
    const refusals = (): LogLine[] => clusterLog(cluster, p).filter((l) => l.msg === 'refused a peer connection without the cluster token')
    await waitFor(async () => refusals().length >= 1, 30000, `${p} to log the refusal`)
    t.match(refusals()[0], { level: 40, node: p, remote: '127.0.0.1' }, `${p} log: "refused a peer connection without the cluster token", at warn`)
    t.notOk(clusterLog(cluster, p).some((l) => l.msg === 'coordinator connected'), `${p} never took the link`)
  }
  t.notOk(coordinatorLog().some((l) => l.msg === 'participant connected'), 'the coordinator never got a hello')

  const peerUrl = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer`
  const refused = await PeerClient.open(peerUrl, WRONG_TOKEN)
  t.equal(refused.status, 401, 'what the participant answers to this token: 401')
  t.same(refused.body, { error: 'unauthorized', message: apiErrors.unauthorized.message }, 'with the catalogue body { error: unauthorized, message }')
  for (const name of cluster.nodes.keys()) {
    const text = readFileSync(join(dataRoot, `${name}.log`), 'utf8')
    t.notOk(text.includes(TOKEN) || text.includes(WRONG_TOKEN), `${name} logs neither token`)
  }

  const ready = await http(`${url}/readyz`)
  t.equal(ready.status, 503, 'the coordinator is not ready')
  t.same(ready.body, { ready: false, participants: 2, connected: 0 }, '/readyz body: connected to none (its own body, not a catalogue error)')

  const tx = await http<TxnResponse>(`${url}/v1/transactions`, { body: { writes: [{ key: 'token/k', value: 'v' }], id: 'token-1' } })
  t.equal(tx.status, 200, 'a transaction is answered 200')
  t.match(tx.body, { outcome: 'aborted', id: 'token-1' })
  t.same(tx.body.reasons, cluster.participantNames.map((participant) => ({ participant, code: 'participant_unavailable', message: abortReasons.participant_unavailable.message })), 'aborted: participant_unavailable, naming each participant')
  t.match((await http(`${url}/v1/transactions/${tx.body.txId}`)).body, { state: 'aborted', ended: true, votes: {} })
  const read = await http(`${url}/v1/keys/token%2Fk`)
  expectError(t, read, 'no_replica', apiErrors.no_replica.message, 'a read')
  t.equal(read.headers.get('retry-after'), '1')
  for (const p of cluster.participantNames) {
    const status = (await http<{ prepared: number; keys: number }>(`${cluster.urlOf(p)}/v1/status`)).body
    t.match(status, { prepared: 0, keys: 0 }, `${p} never heard of the transaction`)
  }
  t.ok(cluster.isRunning('coordinator'), 'the coordinator is still running')
  for (const p of cluster.participantNames) t.ok(cluster.isRunning(p), `${p} is still running`)

  // The same coordinator (same data) with the right token: let in at once.
  await cluster.kill('coordinator')
  cluster.spec('coordinator').env.CLUSTER_TOKEN = TOKEN
  await cluster.start('coordinator')
  await cluster.waitReady(60000)
  const fixed = await http<TxnResponse>(`${url}/v1/transactions`, { body: { writes: [{ key: 'token/k', value: 'v' }] } })
  t.match(fixed.body, { outcome: 'committed', versions: { 'token/k': 1 } }, 'with the right token, the same write commits')
  t.same((await http<TxnResponse>(`${url}/v1/transactions`, { body: { writes: [{ key: 'token/k', value: 'v' }], id: 'token-1' } })).body, tx.body, 'the aborted id keeps its recorded outcome across the restart')
  for (const r of await waitSettled(cluster)) t.same(r.entries['token/k'], { value: 'v', version: 1 }, `replica ${r.participant}`)
})
