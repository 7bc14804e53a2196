import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { abortReasons } from '../../shared/core/abort-reasons.ts'
import { apiErrors } from '../../shared/core/api-errors.ts'
import { legacyWritesHash } from '../../shared/core/protocol/hash.ts'
import { limits } from '../../shared/core/protocol/messages.ts'
import { freePort, nodeArgs, probe, productionEnv, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { rawDataToString } from '../../shared/io/net/raw-data.ts'
import { http, LocalCluster, postRaw, startCluster, submit, waitSettled, type HttpResult, type TxnResponse } from '../helpers/cluster.ts'
import { expectError, parseLog, type LogLine } from '../helpers/node-log.ts'

/**
 * The client API end to end, over real HTTP against real processes (built
 * nodes from dist/ with TXN_RUNTIME=dist, LevelDB in temp dirs, 127.0.0.1):
 * client-id conflicts and in-flight retries, back-pressure (503 overloaded),
 * reads with no replica (503 no_replica), the body, key, value and write-count
 * limits, and a coordinator refusing malformed frames from a participant.
 *
 * Where a transaction must stay in flight for as long as the test needs, the
 * third participant is the test's own WebSocket server speaking the
 * participant's side of the link (hello, votes, acks): it answers the
 * coordinator's heartbeat (ws answers pings by itself) but votes only when
 * told. A frozen real participant (SIGSTOP) would not do: the coordinator's
 * heartbeat drops it within 2-4 s, too short a window to be sure of on a
 * loaded machine.
 *
 * Every 4xx/5xx is checked to be `{ error, message }` with a catalogue code and
 * the catalogue's status (expectError).
 */

const TOKEN = 'http-e2e-cluster-token'

type Json = Record<string, unknown>

// ---- local helpers ------------------------------------------------------------------------------------------

/** A refusal (409, 503) comes at once; waiting longer than this for one means the request was taken instead. */
const AT_ONCE_MS = 20000

/** POST /v1/transactions to a coordinator of the test's own; fails if no answer comes within `answerWithinMs`. */
async function post(url: string, writes: unknown[], extra: Json = {}, answerWithinMs = 180000): Promise<HttpResult<TxnResponse>> {
  let res: Response
  try {
    res = await fetch(`${url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ writes, ...extra }),
      signal: AbortSignal.timeout(answerWithinMs),
    })
  } catch (err) {
    throw new Error(`POST ${JSON.stringify({ writes, ...extra }).slice(0, 200)}: no answer within ${answerWithinMs} ms (${String(err)})`)
  }
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as TxnResponse, headers: res.headers }
}

/** Polls a log until a line matches; log lines come through a pipe, so wait for them rather than race them. */
async function waitLog(read: () => LogLine[], match: (l: LogLine) => boolean, what: string, timeoutMs = 30000): Promise<LogLine> {
  let found: LogLine | undefined
  await waitFor(async () => (found = read().find(match)) !== undefined, timeoutMs, what)
  return found!
}

/** Environment of a node: the test runner's hooks (coverage) kept out, as LocalCluster does. */
const nodeEnv = (env: Record<string, string>): NodeJS.ProcessEnv => ({ ...productionEnv(), ...env })

/** A coordinator process started by the test (LocalCluster only points coordinators at its own participants). */
class SpawnedCoordinator {
  stdout = ''
  stderr = ''

  constructor(readonly child: ChildProcess, readonly url: string) {
    child.stdout?.on('data', (chunk: Buffer) => { this.stdout += chunk.toString() })
    child.stderr?.on('data', (chunk: Buffer) => { this.stderr += chunk.toString() })
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  lines(): LogLine[] {
    return parseLog(this.stdout)
  }

  /** Lines logged after `mark` lines (a mark taken with `lines().length`). */
  linesAfter(mark: number): () => LogLine[] {
    return () => this.lines().slice(mark)
  }
}

async function spawnCoordinator(t: Test, participants: string, env: Record<string, string> = {}): Promise<SpawnedCoordinator> {
  const dataDir = mkdtempSync(join(tmpdir(), 'txn-e2e-coord-'))
  const port = await freePort()
  const child = spawn(process.execPath, nodeArgs('coordinator'), {
    cwd: repoRoot,
    env: nodeEnv({ CLUSTER_TOKEN: TOKEN, DATA_DIR: dataDir, COORDINATOR_HOST: '127.0.0.1', COORDINATOR_PORT: String(port), PARTICIPANTS: participants, LOG_LEVEL: 'debug', CHECK_INVARIANTS: '1', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const node = new SpawnedCoordinator(child, `http://127.0.0.1:${port}`)
  t.teardown(async () => {
    if (node.running) {
      const exited = once(child, 'exit')
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited
    }
    if (process.env.KEEP_TEST_DATA === undefined) rmSync(dataDir, { recursive: true, force: true })
  })
  return node
}

type Message = Json & { type: string }

/**
 * The participant's side of a peer link, played by the test: a WebSocket
 * server on /v1/peer that checks the token, says `hello` when a coordinator
 * connects (or whatever `greet` says), acknowledges every COMMIT, answers
 * pings (ws does that by itself), and votes only when told. It never answers
 * reads: tests on a coordinator with a fake participant do not read.
 */
class FakeParticipant {
  readonly connections: WebSocket[] = []
  /** Close code of each connection, once closed. */
  readonly closeCodes: (number | undefined)[] = []
  readonly received: Message[] = []
  private readonly voted = new Set<string>()
  greet: (ws: WebSocket, index: number) => void = (ws) => { ws.send(JSON.stringify([{ type: 'hello', participant: this.name }])) }
  private readonly waiters = new Set<() => void>()

  private constructor(readonly name: string, readonly port: number, private readonly wss: WebSocketServer) {
    wss.on('connection', (ws) => {
      const index = this.connections.length
      this.connections.push(ws)
      this.closeCodes.push(undefined)
      ws.on('message', (data: RawData, isBinary) => { if (!isBinary) this.onFrame(ws, rawDataToString(data)) })
      ws.on('close', (code) => {
        this.closeCodes[index] = code
        this.wake()
      })
      ws.on('error', () => undefined)
      this.greet(ws, index)
      this.wake()
    })
  }

  static async start(name: string, token: string): Promise<FakeParticipant> {
    const port = await freePort()
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port,
      path: '/v1/peer',
      verifyClient: (info: { req: IncomingMessage }) => info.req.headers.authorization === `Bearer ${token}`,
    })
    await once(wss, 'listening')
    return new FakeParticipant(name, port, wss)
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/peer`
  }

  private get current(): WebSocket {
    const ws = this.connections.at(-1)
    if (!ws) throw new Error(`no coordinator connected to fake ${this.name}`)
    return ws
  }

  send(messages: unknown[]): void {
    this.current.send(JSON.stringify(messages))
  }

  sendRaw(frame: string | Buffer): void {
    this.current.send(frame, { binary: Buffer.isBuffer(frame) })
  }

  vote(txId: string, yes = true): void {
    this.voted.add(txId)
    this.send([{ type: 'vote', txId, yes }])
  }

  /** Votes YES on every PREPARE not voted on yet: a failed test leaves nothing in flight for the next one. */
  releaseAll(): void {
    for (const m of this.received) {
      if (m.type === 'prepare' && !this.voted.has(String(m.txId)) && this.connections.at(-1)?.readyState === WebSocket.OPEN) this.vote(String(m.txId))
    }
  }

  count(match: (m: Message) => boolean): number {
    return this.received.filter(match).length
  }

  async next(match: (m: Message) => boolean, what: string, timeoutMs = 30000): Promise<Message> {
    await this.until(() => this.received.some(match), what, timeoutMs)
    return this.received.find(match)!
  }

  async until(check: () => boolean, what: string, timeoutMs = 30000): Promise<void> {
    if (check()) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake)
        reject(new Error(`fake ${this.name}: timed out waiting for ${what}; received ${JSON.stringify(this.received).slice(-600)}`))
      }, timeoutMs)
      const wake = (): void => {
        if (!check()) return
        clearTimeout(timer)
        this.waiters.delete(wake)
        resolve()
      }
      this.waiters.add(wake)
    })
  }

  async close(): Promise<void> {
    for (const ws of this.connections) ws.terminate()
    await new Promise((ok) => { this.wss.close(ok) })
  }

  private onFrame(ws: WebSocket, text: string): void {
    for (const msg of JSON.parse(text) as Message[]) {
      this.received.push(msg)
      if (msg.type === 'commit') ws.send(JSON.stringify([{ type: 'ack', txId: msg.txId }]))
    }
    this.wake()
  }

  private wake(): void {
    for (const wake of this.waiters) wake()
  }
}

const prepareOf = (key: string) => (m: Message): boolean => m.type === 'prepare' && Array.isArray(m.writes) && (m.writes as { key: string }[]).some((w) => w.key === key)

/**
 * A coordinator (MAX_IN_FLIGHT 2, votes waited for up to 2 minutes) with
 * `real` real participants p1.. and the test's fake after them. The real ones
 * keep the default QUERY_AFTER_MS: their queries of a held transaction are
 * answered once it is decided, and no longer abort it (aborted_by_query did).
 */
async function heldCluster(t: Test, real = 2, participantEnv: Record<string, string> = {}): Promise<{ cluster: LocalCluster; fake: FakeParticipant; coordinator: SpawnedCoordinator }> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-e2e-held-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: real, token: TOKEN, env: { LOG_LEVEL: 'debug', CHECK_INVARIANTS: '1', ...participantEnv } })
  const fake = await FakeParticipant.start(`p${real + 1}`, TOKEN)
  t.teardown(async () => {
    await cluster.stopAll()
    await fake.close()
    if (process.env.KEEP_TEST_DATA === undefined) rmSync(dataRoot, { recursive: true, force: true })
    else t.comment(`test data kept in ${dataRoot}`)
  })
  for (const p of cluster.participantNames) cluster.launch(p)
  for (const p of cluster.participantNames) await cluster.waitNode(p, 60000)
  const participants = [...cluster.participantNames.map((p) => `${p}=ws://127.0.0.1:${cluster.spec(p).port}/v1/peer`), `${fake.name}=${fake.url}`].join(',')
  const coordinator = await spawnCoordinator(t, participants, { MAX_IN_FLIGHT: '2', VOTE_TIMEOUT_MS: '120000', MAX_TIMEOUT_MS: '600000' })
  await waitFor(async () => (await probe(`${coordinator.url}/readyz`)) === 200, 60000, 'the coordinator to be connected to every participant, the fake one too')
  return { cluster, fake, coordinator }
}

// ---- a real 3-participant cluster ---------------------------------------------------------------------------

t.test('a 3-participant cluster: client ids, the input limits, and reads with no replica', async (t) => {
  const cluster = await startCluster(t, { token: TOKEN })
  const url = cluster.url

  await t.test('409 id_conflict: a client id reused with other writes runs nothing and leaves the recorded outcome', async (t) => {
    const first = await submit(cluster, [{ key: 'conf/a', value: '1' }, { key: 'conf/b', value: '1' }], { id: 'conflict-1' })
    t.equal(first.status, 200)
    t.match(first.body, { outcome: 'committed', id: 'conflict-1', versions: { 'conf/a': 1, 'conf/b': 1 } })
    const txId = first.body.txId
    const conflicting: [string, unknown[]][] = [
      ['another value', [{ key: 'conf/a', value: '2' }, { key: 'conf/b', value: '1' }]],
      ['a write fewer', [{ key: 'conf/a', value: '1' }]],
      ['a write more', [{ key: 'conf/a', value: '1' }, { key: 'conf/b', value: '1' }, { key: 'conf/c', value: '1' }]],
      ['another key', [{ key: 'conf/a', value: '1' }, { key: 'conf/z', value: '1' }]],
      ['a precondition added', [{ key: 'conf/a', value: '1', ifVersion: 0 }, { key: 'conf/b', value: '1' }]],
      ['ifAbsent added', [{ key: 'conf/a', value: '1' }, { key: 'conf/b', value: '1', ifAbsent: true }]],
    ]
    for (const [what, writes] of conflicting) {
      const res = await submit(cluster, writes, { id: 'conflict-1' })
      expectError(t, res, 'id_conflict', `client id was used for transaction ${txId} with other writes`, `same id, ${what}`)
    }
    const retry = await submit(cluster, [{ key: 'conf/a', value: '1' }, { key: 'conf/b', value: '1' }], { id: 'conflict-1' })
    t.same(retry.body, first.body, 'the same id with the same writes still answers the recorded outcome')
    t.match((await http(`${url}/v1/transactions?id=conflict-1`)).body, { txId, state: 'committed' }, 'the id still names the first transaction')
    for (const r of await waitSettled(cluster)) {
      t.same(Object.keys(r.entries).filter((k) => k.startsWith('conf/')).sort(), ['conf/a', 'conf/b'], `no conflicting write reached ${r.participant}`)
      t.same([r.entries['conf/a'], r.entries['conf/b']], [{ value: '1', version: 1 }, { value: '1', version: 1 }], `versions untouched on ${r.participant}`)
    }
    t.equal((await http<{ inFlight: number }>(`${url}/v1/status`)).body.inFlight, 0, 'nothing left in flight')
  })

  await t.test('concurrent duplicates (same id, same writes) get one outcome and run once', async (t) => {
    for (let round = 0; round < 8; round++) {
      const id = `dup-concurrent-${round}`
      const writes = [{ key: 'dup/counter', value: `round-${round}` }]
      const answers = await Promise.all([submit(cluster, writes, { id }), submit(cluster, writes, { id }), submit(cluster, writes, { id })])
      for (const a of answers) t.equal(a.status, 200, `round ${round}: answered 200`)
      t.same(answers[1].body, answers[0].body, `round ${round}: the same answer`)
      t.same(answers[2].body, answers[0].body, `round ${round}: the same answer`)
      t.match(answers[0].body, { outcome: 'committed', id, versions: { 'dup/counter': round + 1 } }, `round ${round}: one commit, one version bump`)
    }
    for (const r of await waitSettled(cluster)) t.same(r.entries['dup/counter'], { value: 'round-7', version: 8 }, `8 ids, 24 requests, 8 versions on ${r.participant}`)
    t.match(await http(`${url}/v1/keys/dup%2Fcounter`), { status: 200, body: { value: 'round-7', version: 8 } })
  })

  await t.test('key, value and write-count limits: at the limit accepted, one over refused with bad_request', async (t) => {
    const key512 = `k${'x'.repeat(limits.maxKeyLength - 1)}`
    t.equal(key512.length, 512)
    const atKey = await submit(cluster, [{ key: key512, value: 'long key' }])
    t.match(atKey, { status: 200, body: { outcome: 'committed', versions: { [key512]: 1 } } }, 'a 512-character key commits')
    expectError(t, await submit(cluster, [{ key: `${key512}x`, value: 'v' }]), 'bad_request', 'body/writes/0/key must NOT have more than 512 characters', '513-character key')
    expectError(t, await submit(cluster, [{ key: '', value: 'v' }]), 'bad_request', 'body/writes/0/key must NOT have fewer than 1 characters', 'empty key')
    const astral = '\u{1F600}'.repeat(limits.maxKeyLength) // 512 code points, 1024 UTF-16 units
    t.match((await submit(cluster, [{ key: astral, value: 'emoji key' }])).body, { outcome: 'committed' }, 'a key of 512 code points outside the BMP commits (length is counted in code points)')
    expectError(t, await submit(cluster, [{ key: `${astral}\u{1F600}`, value: 'v' }]), 'bad_request', /key must NOT have more than 512 characters/, '513 code points')

    const value = 'v'.repeat(limits.maxValueLength)
    t.match((await submit(cluster, [{ key: 'lim/value', value }])).body, { outcome: 'committed', versions: { 'lim/value': 1 } }, 'a 262144-character value commits')
    const read = await http<{ value: string; version: number }>(`${url}/v1/keys/lim%2Fvalue`)
    t.equal(read.status, 200)
    t.equal(read.body.value.length, limits.maxValueLength, 'and reads back whole')
    expectError(t, await submit(cluster, [{ key: 'lim/value', value: `${value}v` }]), 'bad_request', 'body/writes/0/value must NOT have more than 262144 characters', 'value one character over')

    const writes = (n: number): { key: string; value: string }[] => Array.from({ length: n }, (_, i) => ({ key: `lim/w/${i}`, value: String(i) }))
    const at = await submit(cluster, writes(limits.maxWritesPerTxn))
    t.equal(at.body.outcome, 'committed', '256 writes commit')
    t.equal(Object.keys(at.body.versions ?? {}).length, 256, 'with a version for each')
    expectError(t, await submit(cluster, writes(limits.maxWritesPerTxn + 1)), 'bad_request', 'body/writes must NOT have more than 256 items', '257 writes')
    expectError(t, await submit(cluster, []), 'bad_request', 'body/writes must NOT have fewer than 1 items', 'no writes')

    const id128 = 'i'.repeat(128)
    t.match((await submit(cluster, [{ key: 'lim/id', value: '1' }], { id: id128 })).body, { outcome: 'committed', id: id128 }, 'a 128-character client id is accepted')
    expectError(t, await submit(cluster, [{ key: 'lim/id', value: '2' }], { id: `${id128}i` }), 'bad_request', 'body/id must NOT have more than 128 characters', '129-character client id')
    expectError(t, await http(`${url}/v1/transactions?id=${id128}i`), 'bad_request', /must NOT have more than 128 characters/, 'status lookup by a 129-character id')
    expectError(t, await http(`${url}/v1/transactions/${'1'.repeat(65)}`), 'bad_request', /must NOT have more than 64 characters/, '65-character txId')

    t.match((await submit(cluster, [{ key: astral, value: 'again', ifAbsent: true }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key: astral }] }, 'the emoji key is there (ifAbsent fails)')
    t.match((await submit(cluster, [{ key: astral, value: 'again', ifVersion: 1 }])).body, { outcome: 'committed', versions: { [astral]: 2 } }, 'at version 1 (compare-and-set commits)')

    const all = await waitSettled(cluster)
    for (const r of all) {
      t.same(r.entries[key512], { value: 'long key', version: 1 }, `the 512-character key is on ${r.participant}`)
      t.equal(r.entries['lim/value']?.value.length, limits.maxValueLength, `the whole value is on ${r.participant}`)
      t.equal(Object.keys(r.entries).filter((k) => k.startsWith('lim/w/')).length, 256, `256 keys of one transaction on ${r.participant}`)
      t.same(r.entries['lim/id'], { value: '1', version: 1 }, `nothing of a refused request on ${r.participant}`)
    }
  })

  await t.test('a key of more than 100 characters (fastify\'s default maxParamLength) reads back', async (t) => {
    const key101 = 'r'.repeat(101)
    t.match((await submit(cluster, [{ key: key101, value: 'unreadable' }])).body, { outcome: 'committed' })
    const read = await http(`${url}/v1/keys/${key101}`)
    t.match(read, { status: 200, body: { key: key101, value: 'unreadable', version: 1 } }, 'a committed 101-character key reads back')
  })

  await t.test('/v1/replica lists keys whose first character is outside the BMP (the scan had a "\uffff" upper bound)', async (t) => {
    const key = '\u{1F600}-listed'
    t.match((await submit(cluster, [{ key, value: 'v' }])).body, { outcome: 'committed' })
    for (const r of await waitSettled(cluster)) t.same(r.entries[key], { value: 'v', version: 1 }, `listed by ${r.participant}`)
  })

  await t.test('a malformed percent-encoding in the path is a catalogue error', async (t) => {
    expectError(t, await http(`${url}/v1/keys/%E0%A4%A`), 'bad_request', undefined, 'bad percent-encoding')
  })

  await t.test('two different write sets whose 32-bit FNV-1a hashes collide are an id conflict (the writes are compared by SHA-256 now)', async (t) => {
    // Found by a birthday search over values "v0", "v1", ... (about 10^5 tries).
    const a = [{ key: 'fnv', value: 'v728' }]
    const b = [{ key: 'fnv', value: 'v99704' }]
    t.equal(legacyWritesHash(a), legacyWritesHash(b), 'the two write sets collide in the 32-bit hash once used (precondition of this test)')
    t.match((await submit(cluster, a, { id: 'fnv-1' })).body, { outcome: 'committed' })
    expectError(t, await submit(cluster, b, { id: 'fnv-1' }), 'id_conflict', undefined, 'same id, other writes, same hash')
  })

  await t.test('503 no_replica: a read with no participant connected; a transaction then aborts naming each one', async (t) => {
    t.match((await submit(cluster, [{ key: 'nr/key', value: 'kept' }])).body, { outcome: 'committed' })
    await waitSettled(cluster)
    for (const p of cluster.participantNames) await cluster.kill(p)
    await waitFor(async () => (await http<{ connected: number }>(`${url}/readyz`)).body.connected === 0, 30000, 'the coordinator to see every participant gone')
    const ready = await http(`${url}/readyz`)
    t.equal(ready.status, 503, '/readyz: 503')
    t.same(ready.body, { ready: false, participants: 3, connected: 0 }, '/readyz: its own body (not a catalogue error)')

    const read = await http(`${url}/v1/keys/nr%2Fkey`)
    expectError(t, read, 'no_replica', apiErrors.no_replica.message, 'read with no participant')
    t.equal(read.headers.get('retry-after'), '1', 'with Retry-After: 1')
    expectError(t, await http(`${url}/v1/keys/never-written`), 'no_replica', undefined, 'read of a key never written: no_replica, not key_not_found')

    const tx = await submit(cluster, [{ key: 'nr/key', value: 'lost' }], { id: 'no-replica-1' })
    t.equal(tx.status, 200, 'a transaction with no participant is an answer, not an error')
    t.same(tx.body.reasons, ['p1', 'p2', 'p3'].map((participant) => ({ participant, code: 'participant_unavailable', message: abortReasons.participant_unavailable.message })), 'aborted naming every participant')
    t.match(tx.body, { outcome: 'aborted', id: 'no-replica-1' })
    t.match((await http(`${url}/v1/transactions/${tx.body.txId}`)).body, { state: 'aborted', ended: true })
    t.ok(cluster.isRunning('coordinator'), 'the coordinator is still up')

    for (const p of cluster.participantNames) await cluster.start(p)
    await cluster.waitReady(60000)
    t.match(await http(`${url}/v1/keys/nr%2Fkey`), { status: 200, body: { key: 'nr/key', value: 'kept', version: 1 } }, 'reads are served again, the aborted write is nowhere')
    expectError(t, await http(`${url}/v1/keys/never-written`), 'key_not_found', undefined, 'a key never written, with replicas back')
    t.same((await submit(cluster, [{ key: 'nr/key', value: 'lost' }], { id: 'no-replica-1' })).body, tx.body, 'a retry of the aborted id answers its recorded outcome')
  })

  await t.test('keys and values with lone surrogates are refused: UTF-8 (LevelDB, the wire) cannot hold them, and "\\ud800" and "\\udbff" would both become "\\ufffd"', async (t) => {
    expectError(t, await submit(cluster, [{ key: '\ud800', value: 'high' }]), 'bad_request', /key of write "\\ud800" is not well-formed Unicode/, 'a lone high surrogate in a key')
    expectError(t, await submit(cluster, [{ key: 'k\udbffk', value: 'x' }]), 'bad_request', /not well-formed Unicode/, 'a lone surrogate inside a key')
    expectError(t, await submit(cluster, [{ key: 'ok', value: '\udc00' }]), 'bad_request', /value of write "ok" is not well-formed Unicode/, 'a lone low surrogate in a value')
    t.match((await submit(cluster, [{ key: '\ud83d\ude00', value: '\ud83d\ude00' }])).body, { outcome: 'committed' }, 'a surrogate pair (an emoji) is fine')
    for (const r of await waitSettled(cluster)) t.notOk(Object.hasOwn(r.entries, '\ufffd'), `no replacement-character key on ${r.participant}`)
  })
})

// ---- BODY_LIMIT_BYTES ---------------------------------------------------------------------------------------

/** A transaction body of exactly `bytes` bytes of UTF-8, its value padded with `fill` (1 or 2 bytes a character). */
function bodyOfBytes(bytes: number, fill: 'x' | '\u00e9'): string {
  const empty = JSON.stringify({ writes: [{ key: 'limit', value: '' }] })
  const room = bytes - Buffer.byteLength(empty)
  const unit = Buffer.byteLength(fill)
  const value = fill.repeat(Math.floor(room / unit)) + 'x'.repeat(room % unit)
  const body = JSON.stringify({ writes: [{ key: 'limit', value }] })
  if (Buffer.byteLength(body) !== bytes) throw new Error(`body of ${Buffer.byteLength(body)} bytes, wanted ${bytes}`)
  return body
}

/** POSTs with Transfer-Encoding: chunked (no Content-Length), over a plain socket. */
async function postChunked(url: string, body: string): Promise<HttpResult> {
  const { hostname, port, pathname } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.on('error', () => undefined)
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const size = Buffer.byteLength(body).toString(16)
  socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\n${body}\r\n0\r\n\r\n`)
  await once(socket, 'close')
  const [head = '', text = ''] = received.split('\r\n\r\n')
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0)
  const headers = new Headers(head.split('\r\n').slice(1).map((line) => line.split(/:\s*/, 2) as [string, string]))
  return { status, body: (text ? JSON.parse(text) : {}) as Json, headers }
}

t.test('BODY_LIMIT_BYTES=2048: a body of 2048 bytes is accepted, one of 2049 is 413 payload_too_large', async (t) => {
  const cluster = await startCluster(t, { token: TOKEN, participants: 1, env: { BODY_LIMIT_BYTES: '2048' } })
  const tx = `${cluster.url}/v1/transactions`

  const at = await http<TxnResponse>(tx, { raw: bodyOfBytes(2048, 'x') })
  t.match(at, { status: 200, body: { outcome: 'committed', versions: { limit: 1 } } }, '2048 bytes: accepted and committed')
  const over = await postRaw(tx, bodyOfBytes(2049, 'x'))
  expectError(t, over, 'payload_too_large', apiErrors.payload_too_large.message, '2049 bytes')

  // The limit counts bytes, not characters: 2-byte characters fill it at half the count.
  const wide = bodyOfBytes(2048, '\u00e9')
  t.ok(wide.length < 1100, `2048 bytes in ${wide.length} characters`)
  t.match(await http<TxnResponse>(tx, { raw: wide }), { status: 200, body: { outcome: 'committed', versions: { limit: 2 } } }, '2048 bytes of 2-byte characters: accepted')
  const wideOver = bodyOfBytes(2050, '\u00e9')
  t.ok(wideOver.length < 2048, `2050 bytes in ${wideOver.length} characters`)
  expectError(t, await postRaw(tx, wideOver), 'payload_too_large', undefined, '2050 bytes in fewer than 2048 characters')

  // Without a Content-Length, what arrives is counted.
  expectError(t, await postChunked(tx, bodyOfBytes(2049, 'x')), 'payload_too_large', undefined, 'chunked body of 2049 bytes')
  t.match(await postChunked(tx, bodyOfBytes(2048, 'x')), { status: 200, body: { outcome: 'committed', versions: { limit: 3 } } }, 'chunked body of 2048 bytes: accepted')

  t.ok(cluster.isRunning('coordinator'), 'the coordinator is still up')
  const [replica] = await waitSettled(cluster)
  const last = (JSON.parse(bodyOfBytes(2048, 'x')) as { writes: { value: string }[] }).writes[0]!.value
  t.same(replica?.entries.limit, { value: last, version: 3 }, 'the replica holds the last accepted value, at version 3 (three accepted, three refused)')
})

// ---- a coordinator with a participant that votes when told ---------------------------------------------------

t.test('two real participants and a fake p3 that votes when told: in-flight retries, 503 overloaded, malformed frames', async (t) => {
  const { cluster, fake, coordinator } = await heldCluster(t)
  const url = coordinator.url
  const inFlight = async (): Promise<number> => (await http<{ inFlight: number }>(`${url}/v1/status`)).body.inFlight
  const retryLogged = (txId: string) => (l: LogLine): boolean => l.msg === 'client retry answered from the transaction record' && l.txId === txId
  t.equal(fake.connections.length, 1, 'the coordinator dialled the fake once')

  await t.test('an in-flight duplicate waits for the running transaction and gets its outcome; it runs once', async (t) => {
    t.teardown(() => { fake.releaseAll() })
    const writes = [{ key: 'held/dup', value: 'once' }]
    const first = post(url, writes, { id: 'held-dup' })
    const prepare = await fake.next(prepareOf('held/dup'), 'the PREPARE of held/dup')
    const txId = String(prepare.txId)
    const second = post(url, writes, { id: 'held-dup' })
    await waitLog(() => coordinator.lines(), retryLogged(txId), 'the coordinator to take the duplicate as a retry of the running transaction')
    t.equal(await inFlight(), 1, 'one transaction in flight, not two')
    t.match((await http(`${url}/v1/transactions/${txId}`)).body, { state: 'preparing', votes: { p1: 'yes', p2: 'yes' } }, 'still undecided: p3 has not voted')
    expectError(t, await post(url, [{ key: 'held/dup', value: 'other' }], { id: 'held-dup' }, AT_ONCE_MS), 'id_conflict', `client id was used for transaction ${txId} with other writes`, 'the same id with other writes, while in flight')

    fake.vote(txId)
    const [a, b] = await Promise.all([first, second])
    t.equal(a.status, 200)
    t.equal(b.status, 200)
    t.same(b.body, a.body, 'both requests got the same answer')
    t.same(a.body, { txId, outcome: 'committed', id: 'held-dup', versions: { 'held/dup': 1 } })
    t.equal(fake.count(prepareOf('held/dup')), 1, 'one PREPARE was sent')
    for (const r of await waitSettled(cluster)) t.same(r.entries['held/dup'], { value: 'once', version: 1 }, `version bumped once on ${r.participant}`)
  })

  await t.test('at most 16 requests wait on one transaction: the 17th is 503 overloaded', async (t) => {
    t.teardown(() => { fake.releaseAll() })
    const writes = [{ key: 'held/crowd', value: 'x' }]
    const first = post(url, writes, { id: 'held-crowd' })
    const txId = String((await fake.next(prepareOf('held/crowd'), 'the PREPARE of held/crowd')).txId)
    const retries = Array.from({ length: 15 }, async () => post(url, writes, { id: 'held-crowd' }))
    await waitFor(async () => coordinator.lines().filter(retryLogged(txId)).length === 15, 30000, '15 retries to be waiting')
    const refused = await post(url, writes, { id: 'held-crowd' }, AT_ONCE_MS)
    expectError(t, refused, 'overloaded', `16 requests already wait for transaction ${txId}; retry later`, 'the 17th request on one transaction')
    t.equal(refused.headers.get('retry-after'), '1', 'with Retry-After: 1')
    fake.vote(txId)
    const answers = await Promise.all([first, ...retries])
    t.equal(answers.length, 16)
    for (const a of answers) t.same(a.body, { txId, outcome: 'committed', id: 'held-crowd', versions: { 'held/crowd': 1 } })
    t.same((await post(url, writes, { id: 'held-crowd' }, AT_ONCE_MS)).body, answers[0].body, 'once decided, a retry is answered at once')
  })

  await t.test('503 overloaded with Retry-After when MAX_IN_FLIGHT (2) transactions run; nothing of the refused one runs', async (t) => {
    t.teardown(() => { fake.releaseAll() })
    await waitFor(async () => (await inFlight()) === 0, 30000, 'nothing in flight')
    const a = post(url, [{ key: 'busy/a', value: 'a' }], { id: 'busy-a' })
    const b = post(url, [{ key: 'busy/b', value: 'b' }])
    const txA = String((await fake.next(prepareOf('busy/a'), 'the PREPARE of busy/a')).txId)
    const txB = String((await fake.next(prepareOf('busy/b'), 'the PREPARE of busy/b')).txId)
    t.equal(await inFlight(), 2, 'two in flight')

    const refused = await post(url, [{ key: 'busy/c', value: 'c' }], { id: 'busy-c' }, AT_ONCE_MS)
    expectError(t, refused, 'overloaded', apiErrors.overloaded.message, 'a third transaction')
    t.equal(refused.headers.get('retry-after'), '1', 'with Retry-After: 1')
    // Not in the coordinator's records, so the lookup reads the id's claim from a replica: the fake p3 never
    // answers reads (503 id_in_doubt after READ_TIMEOUT_MS), and reads go round the participants.
    let lookup = await http(`${url}/v1/transactions?id=busy-c`)
    for (let i = 0; i < 3 && lookup.status === 503; i++) lookup = await http(`${url}/v1/transactions?id=busy-c`)
    expectError(t, lookup, 'unknown_transaction', undefined, 'the refused request left no record of its id, here or in the replicas')
    expectError(t, await post(url, [{ key: 'busy/d', value: 'd' }], {}, AT_ONCE_MS), 'overloaded', undefined, 'and a fourth')

    // A retry of a running id is not a new transaction: it waits, even at the limit.
    const retryA = post(url, [{ key: 'busy/a', value: 'a' }], { id: 'busy-a' })
    await waitLog(() => coordinator.lines(), retryLogged(txA), 'the retry of busy-a to be taken')

    fake.vote(txA)
    fake.vote(txB)
    const [ra, rb, rr] = await Promise.all([a, b, retryA])
    t.match(ra.body, { txId: txA, outcome: 'committed' })
    t.match(rb.body, { txId: txB, outcome: 'committed' })
    t.same(rr.body, ra.body, 'the retry got the outcome of busy-a')
    t.equal(fake.count(prepareOf('busy/c')) + fake.count(prepareOf('busy/d')), 0, 'no PREPARE was sent for a refused transaction')
    t.equal(await inFlight(), 0)

    const again = post(url, [{ key: 'busy/c', value: 'c' }], { id: 'busy-c' })
    fake.vote(String((await fake.next(prepareOf('busy/c'), 'the PREPARE of busy/c')).txId))
    t.match((await again).body, { outcome: 'committed', id: 'busy-c', versions: { 'busy/c': 1 } }, 'capacity back: the refused id runs afresh')
    for (const r of await waitSettled(cluster)) {
      t.same([r.entries['busy/a']?.version, r.entries['busy/b']?.version, r.entries['busy/c']?.version, r.entries['busy/d']], [1, 1, 1, undefined], `replica ${r.participant}`)
    }
  })

  await t.test('the coordinator refuses malformed frames from a participant, logs each, keeps the link and serves HTTP', async (t) => {
    t.teardown(() => { fake.releaseAll() })
    const mark = coordinator.lines().length
    const after = coordinator.linesAfter(mark)
    const refusedFrame = (error: string) => (l: LogLine): boolean => l.msg === 'refused a malformed frame' && l.error === error
    const frames: [string, string | Buffer, string][] = [
      ['not JSON', 'not json', 'frame is not JSON'],
      ['a JSON object', '{"type":"vote","txId":"1.1","yes":true}', 'frame is not an array of messages'],
      ['an empty array', '[]', `frame must carry 1..${limits.maxMessagesPerFrame} messages`],
      ['4097 messages', JSON.stringify(Array.from({ length: limits.maxMessagesPerFrame + 1 }, () => ({ type: 'ack', txId: '0.1' }))), `frame must carry 1..${limits.maxMessagesPerFrame} messages`],
      ['a binary frame', Buffer.from([0x5b, 0x5d]), 'frame is not JSON'],
    ]
    for (const [what, frame, error] of frames) {
      const before = after().filter(refusedFrame(error)).length
      fake.sendRaw(frame)
      await waitFor(async () => after().filter(refusedFrame(error)).length > before, 30000, `the refusal of ${what}`)
      t.match(after().filter(refusedFrame(error)).at(-1), { level: 40, participant: 'p3', code: 'bad_frame', error }, `${what}: refused whole, logged at warn with code bad_frame`)
    }

    // One frame: an invalid vote, a message of no known type, and a valid query of an unknown transaction.
    fake.send([{ type: 'vote', txId: '7.7', yes: 'maybe' }, { type: 'launch-missiles' }, { type: 'query', txId: '7.7' }])
    t.match(await fake.next((m) => m.type === 'abort' && m.txId === '7.7', 'the answer to the valid query'), { type: 'abort', txId: '7.7' }, 'the valid message of the frame was handled (presumed abort)')
    const refusedMessage = (l: LogLine): boolean => l.msg === 'refused a malformed message; the rest of its frame is handled'
    await waitFor(async () => after().filter(refusedMessage).length === 2, 30000, 'both refusals to be logged')
    t.match(after().filter(refusedMessage), [
      { level: 40, participant: 'p3', code: 'bad_frame', error: 'message 0: /yes must be boolean' },
      { level: 40, participant: 'p3', code: 'bad_frame', error: 'message 1: /type is not a known message type' },
    ], 'each invalid message refused on its own')

    t.equal(fake.connections.length, 1, 'the coordinator never dialled again')
    t.equal(fake.closeCodes[0], undefined, 'the link is still open')
    t.notOk(after().some((l) => l.msg === 'participant disconnected'), 'no disconnection logged')
    t.ok(coordinator.running, 'the coordinator is running')
    t.equal(coordinator.stderr, '', 'nothing on its stderr')
    t.equal(await probe(`${url}/readyz`), 200, 'still ready')
    const tx = post(url, [{ key: 'frames/after', value: '1' }])
    fake.vote(String((await fake.next(prepareOf('frames/after'), 'the PREPARE of frames/after')).txId))
    t.match((await tx).body, { outcome: 'committed', versions: { 'frames/after': 1 } }, 'and commits over the same link')
  })

  await t.test('a frame over 8 MiB is not refused alone: the coordinator drops the link (1009) and dials again', async (t) => {
    t.teardown(() => { fake.releaseAll() })
    const mark = coordinator.lines().length
    const after = coordinator.linesAfter(mark)
    // The next connection opens with a malformed frame before its hello: refused, and the hello still counts.
    fake.greet = (ws) => {
      ws.send('{"type":')
      ws.send(JSON.stringify([{ type: 'hello', participant: 'p3' }]))
    }
    fake.sendRaw('x'.repeat(limits.maxFrameBytes + 1))
    await waitLog(after, (l) => l.msg === 'participant disconnected' && l.participant === 'p3', 'the coordinator to drop the link')
    await fake.until(() => fake.closeCodes[0] !== undefined, 'the first link to close')
    t.equal(fake.closeCodes[0], 1009, 'closed with 1009 (message too big), by the ws size limit before the codec sees it')
    await fake.until(() => fake.connections.length === 2, 'the coordinator to dial again')
    await waitFor(async () => (await probe(`${url}/readyz`)) === 200, 30000, 'the coordinator to be ready again')
    t.match(await waitLog(after, (l) => l.msg === 'refused a malformed frame', 'the refusal of the frame before the hello'), { level: 40, participant: 'p3', code: 'bad_frame', error: 'frame is not JSON' }, 'a bad frame before the hello is refused, and the hello after it is taken')
    t.ok(coordinator.running, 'the coordinator is running')
    t.equal(coordinator.stderr, '', 'nothing on its stderr')
    const tx = post(url, [{ key: 'frames/after', value: '2' }])
    await fake.until(() => fake.count(prepareOf('frames/after')) === 2, 'the second PREPARE of frames/after')
    fake.vote(String(fake.received.filter(prepareOf('frames/after')).at(-1)!.txId))
    t.match((await tx).body, { outcome: 'committed', versions: { 'frames/after': 2 } }, 'commits over the new link')
  })
})

t.test('a client\'s timeoutMs is honoured past QUERY_AFTER_MS once a participant has voted YES (a query no longer aborts an undecided transaction)', async (t) => {
  // One real participant with the default QUERY_AFTER_MS, and a fake p2 that never votes.
  const { fake, coordinator } = await heldCluster(t, 1, {})
  const started = Date.now()
  const tx = post(coordinator.url, [{ key: 'slow', value: 'v' }], { timeoutMs: 3000 })
  // Whichever comes first: an answer before p2 saw a PREPARE is a failure that names the answer.
  const prepared = fake.next(prepareOf('slow'), 'the PREPARE of slow').then(() => undefined, (err: unknown) => String(err))
  const first = await Promise.race([prepared, tx])
  if (first !== undefined && typeof first !== 'string') t.fail(`answered before p2 saw a PREPARE: ${JSON.stringify(first.body)}`)
  const waited = await prepared
  if (waited !== undefined) t.fail(waited)
  const res = await tx
  t.comment(`answered after ${Date.now() - started} ms: ${JSON.stringify(res.body.reasons)}`)
  t.same(res.body.reasons, [{ participant: 'p2', code: 'vote_timeout', message: abortReasons.vote_timeout.message }], 'aborted after the 3 s the client asked for, by vote timeout of the silent participant')
})
