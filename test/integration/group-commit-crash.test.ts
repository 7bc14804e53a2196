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
async function crashMidGroup(t: Test, node: string, failpoint: 'store.beforeGroupSync' | 'store.afterGroupSync'): Promise<{ cluster: LocalCluster; group: string[]; acknowledged: Map<string, TxnResponse> }> {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' }, nodeEnv: { [node]: { TXN_FAILPOINTS: `${failpoint}=crash@3` } } })
  const acknowledged = new Map<string, TxnResponse>()
  let n = 0
  const client = async (): Promise<void> => {
    while (cluster.isRunning(node)) {
      const i = n++
      try {
        const r = await http<TxnResponse>(`${cluster.url}/v1/transactions`, { body: { writes: [{ key: `g${i}`, value: `v${i}` }] } })
        if (r.status === 200 && r.body.outcome === 'committed') acknowledged.set(r.body.txId, r.body)
      } catch {
        // cut off by the crash: not acknowledged
      }
    }
  }
  await Promise.all(Array.from({ length: 24 }, client))
  const line = readFileSync(join(cluster.options.dataRoot, `${node}.log`), 'utf8').split('\n').find((l) => l.includes(`"failpoint":"${failpoint}"`))
  t.ok(line, `${node} crashed at ${failpoint}`)
  const group = (JSON.parse(line ?? '{}') as { group?: string[] }).group ?? []
  t.ok(group.length >= 2, `the batch held ${group.length} requests: ${group.join(', ')}`)
  await cluster.start(node)
  await cluster.waitReady()
  return { cluster, group, acknowledged }
}

const syncedTxIds = (group: string[], kind: string): string[] => group.filter((g) => g.startsWith(`${kind} `) && g.endsWith(' sync')).map((g) => g.split(' ')[1]!)

async function settled(cluster: LocalCluster): Promise<void> {
  await waitFor(async () => (await replicas(cluster)).every((r) => r.prepared.length === 0 && r.locks === 0), 30000, 'every replica to settle')
}

t.test('coordinator crashes before a group of commit decisions is synced: none was acknowledged, all are aborted after restart', async (t) => {
  const { cluster, group, acknowledged } = await crashMidGroup(t, 'coordinator', 'store.beforeGroupSync')
  const decisions = syncedTxIds(group, 'commit-decision')
  t.ok(decisions.length >= 1, `commit decisions in the batch: ${decisions.join(' ')}`)
  for (const txId of decisions) {
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged`)
    t.match((await http(`${cluster.url}/v1/transactions/${txId}`)).body, { state: 'aborted' }, `${txId} is aborted after restart`)
  }
  await settled(cluster)
  const [first] = await replicas(cluster)
  for (const [txId, r] of acknowledged) for (const key of Object.keys(r.versions ?? {})) t.ok(first?.entries[key], `acknowledged ${txId} survives`)
})

t.test('coordinator crashes after a group of commit decisions is synced: none was acknowledged, all are committed after restart', async (t) => {
  const { cluster, group, acknowledged } = await crashMidGroup(t, 'coordinator', 'store.afterGroupSync')
  const decisions = syncedTxIds(group, 'commit-decision')
  t.ok(decisions.length >= 1, `commit decisions in the batch: ${decisions.join(' ')}`)
  await settled(cluster)
  const all = await replicas(cluster)
  for (const txId of decisions) {
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged (the crash came before the replies)`)
    const d = (await http<{ state: string; versions?: Record<string, number> }>(`${cluster.url}/v1/transactions/${txId}`)).body
    t.equal(d.state, 'committed', `${txId} survived the crash`)
    for (const [key, version] of Object.entries(d.versions ?? {})) for (const r of all) t.equal(r.entries[key]?.version, version, `${txId}'s ${key} is applied on ${r.participant}`)
  }
})

t.test('a participant crashes after syncing a group (PREPARED records or applies): every synced record survives, no vote left for an unsynced one', async (t) => {
  const { cluster, group, acknowledged } = await crashMidGroup(t, 'p1', 'store.afterGroupSync')
  const prepared = syncedTxIds(group, 'prepare')
  const applied = syncedTxIds(group, 'apply')
  t.ok(prepared.length + applied.length >= 1, `synced in the batch: PREPARED ${prepared.join(' ') || '-'}, applied ${applied.join(' ') || '-'}`)
  await settled(cluster)
  const all = await replicas(cluster)
  for (const txId of prepared) {
    // The vote goes out only once the batch is acknowledged by the store: the crash came first.
    t.notOk(acknowledged.has(txId), `${txId} was not acknowledged: p1 never voted YES for it`)
    t.match((await http(`${cluster.url}/v1/transactions/${txId}`)).body, { state: 'aborted' }, `${txId} aborted`)
  }
  for (const txId of applied) {
    const d = (await http<{ state: string; versions?: Record<string, number> }>(`${cluster.url}/v1/transactions/${txId}`)).body
    t.equal(d.state, 'committed', `${txId} was committed`)
    for (const [key, version] of Object.entries(d.versions ?? {})) for (const r of all) t.equal(r.entries[key]?.version, version, `${txId}'s ${key} is on ${r.participant} (p1's synced apply survived)`)
  }
  const keys = new Set(all.flatMap((r) => Object.keys(r.entries)))
  for (const r of all) t.equal(Object.keys(r.entries).length, keys.size, `${r.participant} holds the same keys as the others`)
})
