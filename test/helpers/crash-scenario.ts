import type { Test } from 'tap'
import { http, startCluster, submit, waitSettled, type TxnResponse } from './cluster.ts'
import type { FailpointName } from '../../shared/io/runtime/failpoints.ts'

export interface CrashExpectation {
  /** What the client is told before the crash: an answer, or the connection is cut. */
  client: 'committed' | 'aborted' | 'cut-off'
  /** The outcome every replica and the status API must agree on after recovery. */
  outcome: 'committed' | 'aborted'
}

/**
 * Runs one transaction into an armed failpoint, lets the node die on the
 * spot, restarts it without the failpoint, and checks what recovery must
 * guarantee: one outcome everywhere, acknowledged commits on every replica,
 * nothing of an abort anywhere, no PREPARED record or lock left, a definite
 * status, and a client retry with the same id answered from the record.
 */
export async function crashScenario(t: Test, failpoint: FailpointName, expected: CrashExpectation): Promise<void> {
  const node = failpoint.startsWith('coordinator.') ? 'coordinator' : 'p2'
  const cluster = await startCluster(t, { nodeEnv: { [node]: { TXN_FAILPOINTS: `${failpoint}=crash` } } })
  const writes = [{ key: 'k1', value: `v-${failpoint}` }, { key: 'k2', value: 'w' }]
  const id = `client-${failpoint}`
  let told: TxnResponse | 'cut-off'
  try {
    told = (await submit(cluster, writes, { id })).body
  } catch {
    told = 'cut-off'
  }
  const t0 = Date.now()
  await cluster.waitExit(node)
  t.comment(`exit after ${Date.now() - t0} ms`)
  t.pass(`${node} crashed at ${failpoint}`)
  t.equal(told === 'cut-off' ? 'cut-off' : told.outcome, expected.client, 'what the client was told before the crash')

  cluster.spec(node).env.TXN_FAILPOINTS = ''
  await cluster.start(node)
  t.comment(`started after ${Date.now() - t0} ms`)
  await cluster.waitReady()
  t.comment(`ready after ${Date.now() - t0} ms`)
  const all = await waitSettled(cluster)
  t.comment(`settled after ${Date.now() - t0} ms`)
  for (const r of all) {
    t.same(r.prepared, [], `no PREPARED record left on ${r.participant}`)
    t.equal(r.locks, 0, `no lock left on ${r.participant}`)
  }
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} agrees with ${all[0]!.participant}`)

  const status = await http<{ state: string; txId: string }>(`${cluster.url}/v1/transactions?id=${encodeURIComponent(id)}`)
  t.equal(status.status, 200, 'the status API knows the transaction by its client id')
  t.equal(status.body.state, expected.outcome, 'the status API gives the definite outcome')
  for (const r of all) {
    if (expected.outcome === 'committed') t.same(r.entries.k1, { value: `v-${failpoint}`, version: 1 }, `the commit is on ${r.participant}`)
    else t.notOk(r.entries.k1, `nothing of the aborted transaction on ${r.participant}`)
  }
  const retry = await submit(cluster, writes, { id })
  t.match(retry.body, { txId: status.body.txId, outcome: expected.outcome }, 'a retry with the same id returns the recorded outcome')
  // The cluster goes on.
  t.match((await submit(cluster, [{ key: 'k1', value: 'after' }])).body, { outcome: 'committed' })
}
