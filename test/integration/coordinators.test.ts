import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { http, replicas, startCluster, submitAt, waitSettled } from '../helpers/cluster.ts'
import { waitFor } from '../../scripts/lib/local-cluster.ts'
import { writesDigest } from '../../shared/core/protocol/hash.ts'

const PAXOS = { COMMIT_PROTOCOL: 'paxos-commit', RECOVERY_AFTER_MS: '300' }

t.test('two coordinators (2PC): each commits with its own transaction ids, on the same keys, and the replicas agree; a stranger is refused', async (t) => {
  const cluster = await startCluster(t, { coordinators: 2 })
  t.same(cluster.coordinatorNames, ['c1', 'c2'])
  const atC1 = await submitAt(cluster, 'c1', [{ key: 'mc/a', value: '1' }])
  // c1 answers at its durable decision; until every participant has applied its COMMIT the key is still held
  // there, and a write at c2 would abort on the lock (conflict). Wait for the end (every ACK), as the
  // fresh-clone CI of 058ee1f showed once.
  await waitFor(async () => (await http<{ ended?: boolean }>(`${cluster.urlOf('c1')}/v1/transactions/${atC1.body.txId}`)).body.ended === true, 20000, "c1's transaction to end")
  const atC2 = await submitAt(cluster, 'c2', [{ key: 'mc/a', value: '2', ifVersion: 1 }])
  t.match(atC1.body, { outcome: 'committed', txId: /^c1:\d+\.1$/ }, 'c1 names its transactions')
  t.match(atC2.body, { outcome: 'committed', txId: /^c2:\d+\.1$/, versions: { 'mc/a': 2 } }, "c2 names its own, and sees c1's write")
  const racing = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => submitAt(cluster, i % 2 === 0 ? 'c1' : 'c2', [{ key: `mc/k${i % 3}`, value: String(i) }])),
  )
  t.ok(racing.every((r) => r.status === 200 && ['committed', 'aborted'].includes(r.body.outcome)), 'twenty at once through both, on three keys: each answered with an outcome')
  t.ok(racing.some((r) => r.body.outcome === 'committed'))
  const all = await waitSettled(cluster)
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} holds what ${all[0]!.participant} holds`)
  t.match((await http(`${cluster.urlOf('c2')}/v1/status`)).body, { coordinator: 'c2', coordinators: ['c1', 'c2'] })

  await t.test("a client id is claimed in the replicas: a retry at the other coordinator returns the one outcome and runs nothing twice", async (t) => {
    const first = await submitAt(cluster, 'c1', [{ key: 'mc/once', value: 'v' }], { id: 'order-1' })
    t.match(first.body, { outcome: 'committed', txId: /^c1:/, id: 'order-1', versions: { 'mc/once': 1 } })
    const retry = await submitAt(cluster, 'c2', [{ key: 'mc/once', value: 'v' }], { id: 'order-1' })
    t.equal(retry.status, 200)
    t.same(retry.body, { txId: first.body.txId, id: 'order-1', outcome: 'committed' }, "c2 answers with c1's transaction (its versions stay with c1)")
    const other = await submitAt(cluster, 'c2', [{ key: 'mc/once', value: 'else' }], { id: 'order-1' })
    t.same((await http(`${cluster.urlOf('c2')}/v1/transactions?id=order-1`)).body, { txId: first.body.txId, id: 'order-1', state: 'committed', claimed: true }, "c2's status lookup by id: read from the claim")
    t.match(await http(`${cluster.urlOf('c2')}/v1/transactions?id=never-used`), { status: 404, body: { error: 'unknown_transaction' } })
    t.match(other, { status: 409, body: { error: 'id_conflict', message: new RegExp(`transaction ${first.body.txId} with other writes`) } })
    const all = await waitSettled(cluster)
    for (const r of all) t.same(r.entries['mc/once'], { value: 'v', version: 1 }, `applied once on ${r.participant}`)
    for (const r of all) t.same(r.reserved['\u0000client-id/order-1'], { value: JSON.stringify([first.body.txId, writesDigest([{ key: 'mc/once', value: 'v' }])]), version: 1 }, `${r.participant} holds the claim, apart from the client keys`)
    t.notOk(Object.keys(all[0]!.entries).some((k) => k.startsWith('\u0000')), 'no reserved key among the entries')
    t.match((await submitAt(cluster, 'c1', [{ key: '\u0000client-id/order-1', value: 'forged' }])).body, { error: 'bad_request', message: /reserved/ }, 'no client writes a reserved key')
    t.match((await http(`${cluster.urlOf('c2')}/v1/keys/%00client-id%2Forder-1`)), { status: 400, body: { error: 'bad_request', message: /reserved/ } }, 'or reads one')
  })

  await t.test('a coordinator not in COORDINATORS: 404 unknown_node, logged', async (t) => {
    const ws = new WebSocket(`ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer?coordinator=c9`, { headers: { authorization: `Bearer ${cluster.token}` } })
    ws.on('error', () => undefined) // terminated while connecting, below
    const [, refused] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }]
    t.equal(refused.statusCode, 404)
    ws.terminate()
    const logFile = join(cluster.options.dataRoot, 'p1.log')
    // The log reaches its file through a pipe: wait for the line rather than race it.
    for (let i = 0; i < 100 && !readFileSync(logFile, 'utf8').includes('not one of COORDINATORS'); i++) await new Promise((ok) => setTimeout(ok, 50))
    t.match(readFileSync(logFile, 'utf8'), /"coordinator":"c9","code":"unknown_node".*"msg":"refused a coordinator connection: not one of COORDINATORS"/)
    t.equal((await submitAt(cluster, 'c1', [{ key: 'mc/after', value: 'ok' }])).body.outcome, 'committed', "and c1's link was untouched")
  })

  await t.test("c1 killed for good: c2 goes on committing, and answers status lookups of c1's transactions from the participants", async (t) => {
    const committed = await submitAt(cluster, 'c1', [{ key: 'mc/lookup', value: 'v' }])
    const aborted = await submitAt(cluster, 'c1', [{ key: 'mc/lookup', value: 'w', ifVersion: 7 }])
    t.match(aborted.body, { outcome: 'aborted' })
    // Under 2PC a participant that voted NO remembers the abort once c1's ABORT reaches it; c1 is killed
    // only after that, or the ABORT may die with it (then no participant knows, and the answer is 404).
    const abortKnown = async (): Promise<boolean> => (await http(`${cluster.urlOf('c2')}/v1/transactions/${aborted.body.txId}`)).status === 200
    await waitFor(abortKnown, 20000, "c1's ABORT to reach the participants")
    await cluster.kill('c1')
    const after = await submitAt(cluster, 'c2', [{ key: 'mc/a', value: '3', ifVersion: 2 }])
    t.match(after.body, { outcome: 'committed', versions: { 'mc/a': 3 } })
    t.match((await http(`${cluster.urlOf('c2')}/v1/transactions/${committed.body.txId}`)), { status: 200, body: { txId: committed.body.txId, state: 'committed', learnedFrom: /^p\d$/ } })
    t.match((await http(`${cluster.urlOf('c2')}/v1/transactions/${aborted.body.txId}`)), { status: 200, body: { state: 'aborted' } }, 'the participants that voted NO remember the abort')
    t.match((await http(`${cluster.urlOf('c2')}/v1/transactions/c1:999.1`)), { status: 404, body: { error: 'unknown_transaction', message: /no participant knows c1:999.1/ } })
    t.match((await http(`${cluster.urlOf('c2')}/v1/transactions/c2:999.1`)), { status: 404, body: { error: 'unknown_transaction', message: /never started/ } }, 'its own: known to it or unknown')
  })
})

t.test("two coordinators (Paxos Commit): c1 dies once its commit is chosen and never returns; the participants finish c1's transaction while c2 goes on committing", async (t) => {
  const cluster = await startCluster(t, { coordinators: 2, env: PAXOS, nodeEnv: { c1: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  t.match((await submitAt(cluster, 'c2', [{ key: 'mp/c2', value: 'before' }])).body, { outcome: 'committed', txId: /^c2:/ })
  await t.rejects(submitAt(cluster, 'c1', [{ key: 'mp/orphan', value: 'v' }], { id: 'orphan-1' }), "c1's client is cut off")
  await cluster.waitExit('c1')
  // c2 stays linked to every participant throughout: they must still lead c1's transaction's recovery themselves.
  const during = await submitAt(cluster, 'c2', [{ key: 'mp/c2', value: 'during', ifVersion: 1 }])
  t.match(during.body, { outcome: 'committed', txId: /^c2:/ }, 'c2 commits with c1 gone')
  const all = await waitSettled(cluster, 30000)
  for (const r of all) t.same(r.entries['mp/orphan'], { value: 'v', version: 1 }, `c1's transaction committed on ${r.participant}, without c1`)
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} holds what ${all[0]!.participant} holds`)
  for (const p of cluster.participantNames) t.equal((await http<{ count: number }>(`${cluster.urlOf(p)}/v1/in-doubt`)).body.count, 0, `${p} has nothing in doubt`)
  // The cut-off client retries at c2: 503 id_in_doubt while c1's transaction is in doubt, then its one outcome.
  let retry = await submitAt(cluster, 'c2', [{ key: 'mp/orphan', value: 'v' }], { id: 'orphan-1' })
  for (let i = 0; i < 100 && retry.status === 503; i++) {
    await new Promise((ok) => setTimeout(ok, 100))
    retry = await submitAt(cluster, 'c2', [{ key: 'mp/orphan', value: 'v' }], { id: 'orphan-1' })
  }
  t.match(retry, { status: 200, body: { outcome: 'committed', txId: /^c1:/, id: 'orphan-1' } }, "the client's retry at c2 gets c1's transaction, committed")
  t.match((await http(`${cluster.urlOf('c2')}/v1/transactions?id=orphan-1`)).body, { txId: retry.body.txId, state: 'committed', claimed: true }, 'and so does its status lookup at c2')
  t.match((await http(`${cluster.urlOf('c2')}/v1/transactions/${retry.body.txId}`)).body, { txId: retry.body.txId, state: 'committed' }, 'and its lookup by txId at c2')
  for (const r of await replicas(cluster)) t.same(r.entries['mp/orphan'], { value: 'v', version: 1 }, `still applied once on ${r.participant}`)
  const next = await submitAt(cluster, 'c2', [{ key: 'mp/orphan', value: 'w', ifVersion: 1 }])
  t.match(next.body, { outcome: 'committed' }, "c2 writes the key c1's transaction held: its locks are gone")
  t.notOk(cluster.isRunning('c1'), 'c1 never came back')
  t.equal((await replicas(cluster)).length, 3)
})

t.test("two coordinators (Paxos Commit): a status lookup by client id at c2 of c1's transaction in doubt finishes it too", async (t) => {
  // The claim of the id is held by c1's transaction: the read of it answers in doubt, naming the holder, and c2
  // looks that transaction up as by txId, leading a recovery ballot (the participants would wait a minute).
  const cluster = await startCluster(t, { coordinators: 2, env: { ...PAXOS, RECOVERY_AFTER_MS: '60000', READ_WAIT_MS: '300' }, nodeEnv: { c1: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  await t.rejects(submitAt(cluster, 'c1', [{ key: 'ml/by-id', value: 'v' }], { id: 'ml-2' }), "c1's client is cut off")
  await cluster.waitExit('c1')
  const txId = (await http<{ transactions: { txId: string }[] }>(`${cluster.urlOf('p1')}/v1/in-doubt`)).body.transactions[0]!.txId
  const lookup = await http(`${cluster.urlOf('c2')}/v1/transactions?id=ml-2`)
  t.match(lookup, { status: 200, body: { txId, id: 'ml-2', state: 'committed', learnedFrom: /^recovery ballot \d+ of this coordinator$/ } }, 'c2 followed the claim to its holder, led a ballot, and answers with the chosen outcome')
  const all = await waitSettled(cluster, 10000)
  for (const r of all) t.same(r.entries['ml/by-id'], { value: 'v', version: 1 }, `committed on ${r.participant}`)
  t.match((await http(`${cluster.urlOf('c2')}/v1/transactions?id=ml-2`)).body, { txId, state: 'committed', claimed: true }, 'asked again, the claim answers')
})

t.test("two coordinators (Paxos Commit): a status lookup at c2 of c1's transaction in doubt finishes it, as a recovery leader, before any participant would", async (t) => {
  // The participants would lead its recovery only after a minute: the lookup is what finishes it here.
  const cluster = await startCluster(t, { coordinators: 2, env: { ...PAXOS, RECOVERY_AFTER_MS: '60000' }, nodeEnv: { c1: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  await t.rejects(submitAt(cluster, 'c1', [{ key: 'ml/orphan', value: 'v' }], { id: 'ml-1' }), "c1's client is cut off")
  await cluster.waitExit('c1')
  const inDoubt = (await http<{ transactions: { txId: string }[] }>(`${cluster.urlOf('p1')}/v1/in-doubt`)).body.transactions
  t.equal(inDoubt.length, 1, 'p1 holds c1\'s transaction in doubt')
  const txId = inDoubt[0]!.txId
  const lookup = await http(`${cluster.urlOf('c2')}/v1/transactions/${txId}`)
  t.match(lookup, { status: 200, body: { txId, state: 'committed', learnedFrom: /^recovery ballot \d+ of this coordinator$/ } }, 'c2 led a ballot and answers with the chosen outcome')
  const all = await waitSettled(cluster, 10000)
  for (const r of all) t.same(r.entries['ml/orphan'], { value: 'v', version: 1 }, `committed on ${r.participant}: c2 told every participant`)
  for (const p of cluster.participantNames) t.equal((await http<{ count: number }>(`${cluster.urlOf(p)}/v1/in-doubt`)).body.count, 0, `${p} has nothing in doubt`)
  t.match((await submitAt(cluster, 'c2', [{ key: 'ml/orphan', value: 'v' }], { id: 'ml-1' })), { status: 200, body: { outcome: 'committed', txId, id: 'ml-1' } }, "the client's retry at c2 returns c1's transaction, committed once")
  const c2Log = readFileSync(join(cluster.options.dataRoot, 'c2.log'), 'utf8')
  t.notMatch(c2Log, /"level":50/, 'c2 logged no error')
})
