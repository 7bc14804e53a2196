import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, replicas, startCluster, type LocalCluster, type TxnResponse } from '../helpers/cluster.ts'

/**
 * Crash a node in the middle of a group commit: a synced batch holding several
 * transactions' records, just before or just after its write. Concurrent
 * clients keep many transactions in flight so that batches really group.
 */
async function crashMidGroup(t: Test, node: string, failpoint: 'store.beforeGroupSync' | 'store.afterGroupSync'): Promise<{ cluster: LocalCluster; group: string[]; acknowledged: Map<string, TxnResponse>; sent: number }> {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' }, nodeEnv: { [node]: { TXN_FAILPOINTS: `${failpoint}=crash@3` } } })
  const acknowledged = new Map<string, TxnResponse>()
  let n = 0
  // Bounded: if the failpoint never fired, the test fails below instead of running until tap's timeout.
  const deadline = Date.now() + 120_000
  const client = async (): Promise<void> => {
    while (cluster.isRunning(node) && Date.now() < deadline) {
      const i = n++
      try {
        const r = await http<TxnResponse>(`${cluster.url}/v1/transactions`, { body: { writes: [{ key: `g${i}`, value: `v${i}` }], id: `g${i}` } })
        if (r.status === 200 && r.body.outcome === 'committed') acknowledged.set(r.body.txId, r.body)
      } catch {
        // cut off by the crash: not acknowledged
      }
    }
  }
  await Promise.all(Array.from({ length: 24 }, client))
  t.notOk(cluster.isRunning(node), `${node} crashed within the time given (${n} requests sent)`)
  const line = readFileSync(join(cluster.options.dataRoot, `${node}.log`), 'utf8').split('\n').find((l) => l.includes(`"failpoint":"${failpoint}"`))
  t.ok(line, `${node} crashed at ${failpoint}`)
  const group = (JSON.parse(line ?? '{}') as { group?: string[] }).group ?? []
  t.ok(group.length >= 2, `the batch held ${group.length} requests: ${group.join(', ')}`)
  await cluster.start(node)
  await cluster.waitReady()
  return { cluster, group, acknowledged, sent: n }
}

const syncedTxIds = (group: string[], kind: string): string[] => group.filter((g) => g.startsWith(`${kind} `) && g.endsWith(' sync')).map((g) => g.split(' ')[1]!)

async function settled(cluster: LocalCluster): Promise<void> {
  await waitFor(async () => (await replicas(cluster)).every((r) => r.prepared.length === 0 && r.locks === 0), 30000, 'every replica to settle')
}

/**
 * After recovery, by content. Request i wrote key g<i> = v<i> with client id
 * g<i>. The replicas are identical; every acknowledged commit is on them;
 * and for every request sent, the status API's outcome (by its client id)
 * and the replicas agree: committed ⇒ g<i> = v<i> at version 1, aborted or
 * never started ⇒ no g<i>. So nothing is on a replica that was not committed.
 */
async function checkContents(t: Test, cluster: LocalCluster, acknowledged: Map<string, TxnResponse>, sent: number): Promise<Awaited<ReturnType<typeof replicas>>> {
  await settled(cluster)
  const all = await replicas(cluster)
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} holds exactly what ${all[0]!.participant} holds`)
  const entries = all[0]!.entries
  const wrong: string[] = []
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < sent; i++) {
    const status = await http<{ state?: string }>(`${cluster.url}/v1/transactions?id=g${i}`)
    const state = status.status === 404 ? 'never started' : status.body.state ?? `status ${status.status}`
    outcomes[state] = (outcomes[state] ?? 0) + 1
    const entry = entries[`g${i}`]
    const ok = state === 'committed' ? entry?.value === `v${i}` && entry.version === 1 : entry === undefined
    if (!ok) wrong.push(`g${i}: ${state}, replica holds ${JSON.stringify(entry)}`)
  }
  t.comment(`outcomes of the ${sent} requests: ${JSON.stringify(outcomes)}`)
  t.same(wrong, [], 'each request\'s outcome and the replicas agree')
  t.ok((outcomes.committed ?? 0) > 0, 'some requests committed')
  t.equal(Object.keys(entries).length, outcomes.committed ?? 0, 'no entry but the committed requests\' ones')
  for (const [txId, answer] of acknowledged) {
    for (const [key, version] of Object.entries(answer.versions ?? {})) if (entries[key]?.version !== version) t.fail(`acknowledged ${txId}: ${key} is ${JSON.stringify(entries[key])}`)
  }
  return all
}

/** Each transaction is committed, and each of its keys is on every replica at the version the status API gives. */
async function checkCommittedEverywhere(t: Test, cluster: LocalCluster, all: Awaited<ReturnType<typeof replicas>>, txIds: readonly string[], why: string): Promise<void> {
  for (const txId of txIds) {
    const d = (await http<{ state: string; versions?: Record<string, number> }>(`${cluster.url}/v1/transactions/${txId}`)).body
    t.equal(d.state, 'committed', `${txId} was committed`)
    for (const [key, version] of Object.entries(d.versions ?? {})) for (const r of all) t.equal(r.entries[key]?.version, version, `${txId}'s ${key} is on ${r.participant} (${why})`)
  }
}

t.test('coordinator crashes before a group of commit decisions is synced: none was acknowledged, all are aborted after restart', async (t) => {
  const { cluster, group, acknowledged, sent } = await crashMidGroup(t, 'coordinator', 'store.beforeGroupSync')
  const decisions = syncedTxIds(group, 'commit-decision')
  t.ok(decisions.length >= 1, `commit decisions in the batch: ${decisions.join(' ')}`)
  for (const txId of decisions) {
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged`)
    t.match((await http(`${cluster.url}/v1/transactions/${txId}`)).body, { state: 'aborted' }, `${txId} is aborted after restart`)
  }
  await checkContents(t, cluster, acknowledged, sent)
})

t.test('coordinator crashes after a group of commit decisions is synced: none was acknowledged, all are committed after restart', async (t) => {
  const { cluster, group, acknowledged, sent } = await crashMidGroup(t, 'coordinator', 'store.afterGroupSync')
  const decisions = syncedTxIds(group, 'commit-decision')
  t.ok(decisions.length >= 1, `commit decisions in the batch: ${decisions.join(' ')}`)
  const all = await checkContents(t, cluster, acknowledged, sent)
  for (const txId of decisions) t.notOk(acknowledged.has(txId), `${txId} was not acknowledged (the crash came before the replies)`)
  await checkCommittedEverywhere(t, cluster, all, decisions, 'its synced decision survived the crash')
})

t.test('a participant crashes after syncing a group (PREPARED records or applies): every synced record survives, no vote left for an unsynced one', async (t) => {
  const { cluster, group, acknowledged, sent } = await crashMidGroup(t, 'p1', 'store.afterGroupSync')
  const prepared = syncedTxIds(group, 'prepare')
  const applied = syncedTxIds(group, 'apply')
  t.ok(prepared.length + applied.length >= 1, `synced in the batch: PREPARED ${prepared.join(' ') || '-'}, applied ${applied.join(' ') || '-'}`)
  const all = await checkContents(t, cluster, acknowledged, sent)
  for (const txId of prepared) {
    // The vote goes out only once the batch is acknowledged by the store: the crash came first.
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged: p1 never voted YES for it`)
    t.match((await http(`${cluster.url}/v1/transactions/${txId}`)).body, { state: 'aborted' }, `${txId} aborted`)
  }
  await checkCommittedEverywhere(t, cluster, all, applied, 'p1\'s synced apply survived')
})

t.test('a participant crashes before syncing a group: none of its records survives; the PREPAREs in it abort, the applies in it are redone after restart', async (t) => {
  const { cluster, group, acknowledged, sent } = await crashMidGroup(t, 'p1', 'store.beforeGroupSync')
  const prepared = syncedTxIds(group, 'prepare')
  const applied = syncedTxIds(group, 'apply')
  t.ok(prepared.length + applied.length >= 1, `in the unsynced batch: PREPARED ${prepared.join(' ') || '-'}, applies ${applied.join(' ') || '-'}`)
  const all = await checkContents(t, cluster, acknowledged, sent)
  for (const txId of prepared) {
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged: its PREPARED record never reached p1's disk, so p1 never voted`)
    t.match((await http(`${cluster.url}/v1/transactions/${txId}`)).body, { state: 'aborted' }, `${txId} aborted`)
  }
  // The apply was lost with the batch, the PREPARED record was not: p1 asks again after restart and applies.
  await checkCommittedEverywhere(t, cluster, all, applied, 'p1 included: its lost apply was redone')
})
