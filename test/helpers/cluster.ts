import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { LocalCluster, waitFor, type ClusterOptions, type Dispatcher } from '../../scripts/lib/local-cluster.ts'

export { LocalCluster }

/** A real cluster (separate processes, temp LevelDB dirs, ephemeral ports) torn down after the test. */
export async function startCluster(t: Test, options: Partial<ClusterOptions> = {}): Promise<LocalCluster> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-test-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 3, ...options, env: { LOG_LEVEL: 'debug', CHECK_INVARIANTS: '1', ...options.env } })
  t.teardown(async () => {
    await cluster.stopAll()
    if (process.env.KEEP_TEST_DATA === undefined) rmSync(dataRoot, { recursive: true, force: true })
    else t.comment(`test data kept in ${dataRoot}`)
  })
  await cluster.startAll()
  if (cluster.envOf(cluster.participantNames[0]!).COMMIT_PROTOCOL === 'paxos-commit') await waitPeersLinked(cluster)
  return cluster
}

/**
 * Paxos Commit: until every participant has dialled every other. Ready means
 * linked to the coordinators; a participant's 2a sent before its links to the
 * others are up is lost (as on any link that is down), and a transaction whose
 * vote reached too few acceptors aborts, which a test of a commit does not want.
 */
export async function waitPeersLinked(cluster: LocalCluster, timeoutMs = 30000): Promise<void> {
  const linked = async (p: string): Promise<boolean> => {
    // /v1/status is the admin's when the cluster has an ADMIN_TOKEN.
    const token = cluster.envOf(p).ADMIN_TOKEN
    const headers = token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }
    const peers = (await http<{ peers?: Record<string, { connected: boolean }> }>(`${cluster.urlOf(p)}/v1/status`, { dispatcher: cluster.dispatcher, headers })).body.peers ?? {}
    return cluster.participantNames.every((other) => other === p || peers[other]?.connected === true)
  }
  await waitFor(async () => (await Promise.all(cluster.participantNames.map(linked))).every(Boolean), timeoutMs, 'every participant to dial every other (Paxos Commit)')
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number
  body: T
  headers: Headers
}

export async function http<T = Record<string, unknown>>(url: string, init: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string>; dispatcher?: Dispatcher | undefined } = {}): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...init.headers }
  let body: string | undefined
  if (init.raw !== undefined) body = init.raw
  else if (init.body !== undefined) body = JSON.stringify(init.body)
  if (body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body: body ?? null, ...(init.dispatcher ? { dispatcher: init.dispatcher } : {}) })
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers }
}

export interface TxnResponse {
  txId: string
  id?: string
  outcome: 'committed' | 'aborted'
  reasons?: { participant: string; code: string; key?: string; message: string }[]
  versions?: Record<string, number>
}

export async function submit(cluster: LocalCluster, writes: unknown[], extra: Record<string, unknown> = {}): Promise<HttpResult<TxnResponse>> {
  return http<TxnResponse>(`${cluster.url}/v1/transactions`, { body: { writes, ...extra }, dispatcher: cluster.dispatcher })
}

/** The same, through one coordinator of several. */
export async function submitAt(cluster: LocalCluster, coordinator: string, writes: unknown[], extra: Record<string, unknown> = {}): Promise<HttpResult<TxnResponse>> {
  return http<TxnResponse>(`${cluster.urlOf(coordinator)}/v1/transactions`, { body: { writes, ...extra }, dispatcher: cluster.dispatcher })
}

export interface Replica {
  participant: string
  entries: Record<string, { value: string; version: number }>
  /** Client ids' claims (shared/core/protocol/client-id-claim.ts). */
  reserved: Record<string, { value: string; version: number }>
  prepared: string[]
  locks: number
}

export async function replicas(cluster: LocalCluster): Promise<Replica[]> {
  return Promise.all(cluster.participantNames.map(async (p) => (await http<Replica>(`${cluster.urlOf(p)}/v1/replica`, { dispatcher: cluster.dispatcher })).body))
}

/** Polls until every replica has no PREPARED record and no lock (all transactions resolved); fails the caller if that never happens. */
export async function waitSettled(cluster: LocalCluster, timeoutMs = 20000): Promise<Replica[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all = await replicas(cluster)
    if (all.every((r) => r.prepared.length === 0 && r.locks === 0)) return all
    if (Date.now() > deadline) {
      throw new Error(`replicas did not settle within ${timeoutMs} ms: ${all.map((r) => `${r.participant} prepared [${r.prepared.join(',')}] locks ${r.locks}`).join('; ')}`)
    }
    await new Promise((ok) => setTimeout(ok, 100))
  }
}

/**
 * POSTs over a plain socket, for a body the server refuses unread (over
 * BODY_LIMIT_BYTES): the headers go first, and the body only if no answer
 * comes. A server that answers 413 and closes while the client is still
 * sending resets the connection, and the answer can be lost with it (fetch
 * then fails with EPIPE, or the client reads nothing).
 */
export async function postRaw(url: string, body: string): Promise<HttpResult> {
  const { hostname, port, pathname } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.on('error', () => undefined) // a reset after the answer: what was answered is already read
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  const answered = new Promise<boolean>((ok) => { socket.once('data', () => { ok(true) }) })
  socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`)
  const early = await Promise.race([answered, new Promise<boolean>((ok) => setTimeout(() => { ok(false) }, 2000))])
  if (early) socket.end()
  else socket.end(body)
  await new Promise((ok) => socket.once('close', ok))
  const [head = '', text = ''] = received.split('\r\n\r\n')
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0)
  const headers = new Headers(head.split('\r\n').slice(1).map((line) => line.split(/:\s*/, 2) as [string, string]))
  return { status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers }
}

/**
 * Paxos Commit with coordinators c1 and c2, c1 armed to crash before its decision (a crash point): submits
 * one write with client id `id` at c1, which dies before answering, and waits until the participants have
 * finished the transaction (c2's lookup by the id says committed). Returns its txId.
 */
export async function orphanOfC1(t: Test, cluster: LocalCluster, key: string, id: string, headers: Record<string, string> = {}): Promise<string> {
  await t.rejects(http(`${cluster.urlOf('c1')}/v1/transactions`, { body: { writes: [{ key, value: 'v' }], id }, headers }), 'c1 dies before answering')
  await cluster.waitExit('c1')
  let txId: string | undefined
  for (let i = 0; i < 100 && txId === undefined; i++) {
    const found = await http<{ txId?: string; state?: string }>(`${cluster.urlOf('c2')}/v1/transactions?id=${encodeURIComponent(id)}`, { headers })
    if (found.body.state === 'committed') txId = found.body.txId
    else await new Promise((r) => setTimeout(r, 100))
  }
  t.match(txId, /^c1:/, 'the participants finished c1\'s transaction')
  return txId ?? ''
}
