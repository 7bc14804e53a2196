import t from 'tap'
import { freePort } from '../../scripts/lib/local-cluster.ts'
import { startLocalChaos } from '../../scripts/lib/local-chaos.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { parseAccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import type { Flow } from '../../shared/io/trace/flow.ts'
import { http, orphanOfC1, startCluster, type LocalCluster, type TxnResponse } from '../helpers/cluster.ts'

/**
 * A transaction's flow as the console draws it, gathered from real nodes
 * (GET /v1/transactions/:txId/trace): every node's messages paired send to
 * receive on one clock, the synced writes, the client's request and answer;
 * a vote that never came shows as a vote timer and a missing arrow; the
 * chaos API is reachable through the coordinator; tokens are checked.
 */

const ADMIN = 'trace-admin-token-0123456789'
const admin = { authorization: `Bearer ${ADMIN}` }
const submit = async (cluster: LocalCluster, writes: unknown[], extra: Record<string, unknown> = {}) => http<TxnResponse>(`${cluster.url}/v1/transactions`, { body: { writes, ...extra }, headers: admin })

t.test('a 2PC commit: 3 PREPAREs, 3 votes, 3 COMMITs, 3 ACKs, each received after it was sent; synced writes; request and answer', async (t) => {
  const cluster = await startCluster(t, { env: { ADMIN_TOKEN: ADMIN } })
  const done = await submit(cluster, [{ key: 'trace/a', value: '1' }])
  t.equal(done.body.outcome, 'committed')
  const txId = done.body.txId
  // The participants' ACKs follow the answer: wait until every node has told all it will.
  let flow: Flow | undefined
  for (let i = 0; i < 50; i++) {
    flow = (await http<Flow>(`${cluster.url}/v1/transactions/${encodeURIComponent(txId)}/trace`, { headers: admin })).body
    if (flow.messages.filter((m) => m.label === 'ack' && m.receivedUs !== null).length === 3) break
    await new Promise((r) => setTimeout(r, 100))
  }
  flow = flow!
  t.same(flow.nodes.map((n) => n.node), ['coordinator', 'p1', 'p2', 'p3'], 'one lifeline per node')
  t.same(flow.nodes.map((n) => n.alignment), ['self', 'shared-clock', 'shared-clock', 'shared-clock'], 'on one machine every node reads the same monotonic clock')
  const count = (label: string, from?: string): number => flow.messages.filter((m) => m.label === label && (from === undefined || m.from === from) && m.sentUs !== null && m.receivedUs !== null).length
  t.equal(count('prepare', 'coordinator'), 3, '3 PREPAREs, paired')
  t.equal(count('vote yes'), 3, '3 YES votes, paired')
  t.equal(count('commit', 'coordinator'), 3, '3 COMMITs')
  t.equal(count('ack'), 3, '3 ACKs')
  t.ok(flow.messages.every((m) => m.sentUs === null || m.receivedUs === null || m.receivedUs >= m.sentUs), 'no message is received before it was sent')
  for (const p of ['p1', 'p2', 'p3']) {
    const prepare = flow.writes.find((w) => w.node === p && w.kind === 'prepare')
    t.ok(prepare?.sync === true && prepare.doneUs !== null, `${p}: its PREPARED record, synced and durable`)
    const sent = flow.messages.find((m) => m.label === 'prepare' && m.to === p)!
    const vote = flow.messages.find((m) => m.label === 'vote yes' && m.from === p)!
    t.ok(prepare!.startUs >= sent.receivedUs! && vote.sentUs! >= prepare!.doneUs!, `${p}: PREPARE received, then the write, then the vote (persist before send)`)
  }
  const decision = flow.writes.find((w) => w.node === 'coordinator' && w.kind === 'commit-decision')
  t.ok(decision?.sync === true, 'the coordinator\'s synced decision')
  t.same(flow.marks.filter((m) => m.kind !== 'timer').map((m) => `${m.kind} ${m.label}`), ['request POST /v1/transactions', 'answer committed'], 'the client\'s request and answer')
  const answer = flow.marks.find((m) => m.kind === 'answer')!
  t.ok(answer.atUs >= decision!.doneUs!, 'answered after the decision was durable')

  const recent = await http<{ transactions: { txId: string; answer?: string }[] }>(`${cluster.url}/v1/trace`, { headers: admin })
  t.match(recent.body.transactions[0], { txId, answer: 'committed' }, 'GET /v1/trace lists it, most recent first')
  const one = await http<{ transactions: unknown[] }>(`${cluster.url}/v1/trace?limit=1`, { headers: admin })
  t.equal(one.body.transactions.length, 1, '?limit=1: one')
  for (const bad of ['0', '1001', 'x', '-1']) {
    const refused = await http<{ error: string }>(`${cluster.url}/v1/trace?limit=${bad}`, { headers: admin })
    t.match([refused.status, refused.body.error], [400, 'bad_request'], `?limit=${bad}: 400 bad_request`)
  }
  const own = await http<{ node: string; events: unknown[]; nowUs: number }>(`${cluster.urlOf('p1')}/v1/trace/${encodeURIComponent(txId)}`, { headers: admin })
  t.ok(own.body.node === 'p1' && own.body.events.length >= 4 && own.body.nowUs > 0, 'a participant serves its own part, with its clock')

  t.equal((await http(`${cluster.url}/v1/transactions/${encodeURIComponent(txId)}/trace`)).status, 401, 'without the admin token: 401')
  const unknown = await http(`${cluster.url}/v1/transactions/nobody-1.1/trace`, { headers: admin })
  t.same({ status: unknown.status, error: unknown.body.error }, { status: 404, error: 'unknown_transaction' }, 'a transaction no node traced: 404 unknown_transaction')
  const noChaos = await http(`${cluster.url}/v1/chaos/faults`, { headers: admin })
  t.same({ status: noChaos.status, error: noChaos.body.error }, { status: 503, error: 'no_chaos_api' }, 'without CHAOS_URL the fault routes say so')
})

t.test('a vote that never came: the vote timer fires, the paused participant\'s arrows are missing, and the abort is drawn', async (t) => {
  const cluster = await startCluster(t, { env: { ADMIN_TOKEN: ADMIN } })
  t.equal((await submit(cluster, [{ key: 'trace/warm', value: '0' }])).body.outcome, 'committed', 'warmed up')
  cluster.pause('p2')
  t.teardown(() => { cluster.resume('p2') })
  const aborted = await submit(cluster, [{ key: 'trace/b', value: '1' }], { timeoutMs: 300 })
  t.equal(aborted.body.outcome, 'aborted', 'aborted on the vote timeout')
  const flow = (await http<Flow>(`${cluster.url}/v1/transactions/${encodeURIComponent(aborted.body.txId)}/trace`, { headers: admin })).body
  t.ok(flow.marks.some((m) => m.node === 'coordinator' && m.kind === 'timer' && m.label === 'vote timer'), 'the coordinator\'s vote timer fired')
  t.same(flow.nodes.find((n) => n.node === 'p2')?.error !== undefined, true, 'the paused participant did not answer for its trace')
  const toP2 = flow.messages.find((m) => m.label === 'prepare' && m.to === 'p2')
  t.ok(toP2 && toP2.sentUs !== null && toP2.receivedUs === null, 'its PREPARE is drawn sent, never received')
  t.notOk(flow.messages.some((m) => m.label.startsWith('vote') && m.from === 'p2'), 'no vote from it')
  t.equal(flow.messages.filter((m) => m.label === 'abort' && m.from === 'coordinator').length, 3, 'ABORT to every participant')
  t.match(flow.marks.find((m) => m.kind === 'answer'), { label: 'aborted' }, 'the client was told aborted')
})

t.test('the chaos API through the coordinator, with the caller\'s token', async (t) => {
  const chaosPort = await freePort()
  const cluster = await startCluster(t, { env: { ADMIN_TOKEN: ADMIN, CHAOS_URL: `http://127.0.0.1:${chaosPort}` }, partitionable: true })
  const chaos = await startLocalChaos(cluster, createLogger('chaos', 'warn'), chaosPort, '127.0.0.1', parseAccessTokens('', ADMIN))
  t.teardown(async () => {
    await chaos.engine.healAll(true)
    await chaos.close()
  })
  const nodes = await http<{ nodes: { name: string }[] }>(`${cluster.url}/v1/chaos/nodes`, { headers: admin })
  t.same(nodes.body.nodes.map((n) => n.name), ['coordinator', 'p1', 'p2', 'p3'], 'the chaos API\'s nodes')
  const fault = await http<{ id: string; kind: string; node: string }>(`${cluster.url}/v1/chaos/faults`, { headers: admin, body: { kind: 'pause', node: 'p3', durationMs: 60000 } })
  t.match({ status: fault.status, body: fault.body }, { status: 201, body: { kind: 'pause', node: 'p3' } }, 'a pause injected through the coordinator: the chaos API\'s own 201')
  const active = await http<{ active: { id: string }[] }>(`${cluster.url}/v1/chaos/faults`, { headers: admin })
  t.same(active.body.active.map((f) => f.id), [fault.body.id], 'and listed')
  const busy = await http(`${cluster.url}/v1/chaos/faults`, { headers: admin, body: { kind: 'kill', node: 'p3' } })
  t.same({ status: busy.status, error: busy.body.error }, { status: 409, error: 'node_busy' }, 'the chaos API\'s refusal passes through as it is')
  const healed = await http<{ healed: unknown[] }>(`${cluster.url}/v1/chaos/heal`, { headers: admin, method: 'POST' })
  t.equal(healed.body.healed.length, 1, 'heal all')
  t.equal((await http(`${cluster.url}/v1/chaos/faults`)).status, 401, 'no token: 401 at the coordinator')
  await chaos.close()
  const gone = await http(`${cluster.url}/v1/chaos/faults`, { headers: admin })
  t.same({ status: gone.status, error: gone.body.error }, { status: 502, error: 'chaos_unreachable' }, 'a chaos API that is gone: 502 chaos_unreachable')
})

t.test('Paxos Commit, the coordinator dead after the votes: the 2bs it never received, then a participant\'s recovery ballot, drawn from the survivors\' traces', async (t) => {
  const cluster = await startCluster(t, { coordinators: 2, env: { ADMIN_TOKEN: ADMIN, COMMIT_PROTOCOL: 'paxos-commit', RECOVERY_AFTER_MS: '300' }, nodeEnv: { c1: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  const txId = await orphanOfC1(t, cluster, 'trace/orphan', 'trace-orphan', admin)
  let flow: Flow | undefined
  for (let i = 0; i < 50; i++) {
    flow = (await http<Flow>(`${cluster.urlOf('c2')}/v1/transactions/${encodeURIComponent(txId)}/trace`, { headers: admin })).body
    if (flow.messages.some((m) => m.label.startsWith('outcome') || m.label.startsWith('resolved'))) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const f = flow!
  t.same(f.nodes.map((n) => n.node), ['c2', 'p1', 'p2', 'p3'], 'c2 gathers its own trace and the participants\'; it does not know c1\'s address')
  t.equal(f.messages.filter((m) => m.label === 'prepare' && m.from === 'c1' && m.receivedUs !== null).length, 3, 'c1\'s 3 PREPAREs, drawn from the participants\' side')
  const toDead = f.messages.filter((m) => m.to === 'c1' && m.label.startsWith('2b b0'))
  t.ok(toDead.length >= 3 && toDead.every((m) => m.sentUs !== null && m.receivedUs === null), 'the 2bs sent to c1, never received: the gap where it died')
  t.ok(f.marks.some((m) => m.kind === 'timer' && m.label === 'recover timer' && m.node.startsWith('p')), 'a participant\'s recovery timer fired')
  const ballots = f.messages.filter((m) => /^1a b[1-9]/.test(m.label) && m.receivedUs !== null)
  t.ok(ballots.length >= 2, 'its phase 1a at a higher ballot reached the other acceptors')
  t.ok(f.messages.some((m) => /^1b b[1-9]/.test(m.label) && m.receivedUs !== null), 'and their 1bs came back')
  t.ok(f.messages.every((m) => m.sentUs === null || m.receivedUs === null || m.receivedUs >= m.sentUs), 'no message is received before it was sent')
})
