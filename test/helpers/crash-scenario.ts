import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import type { Test } from 'tap'
import { entryKey, preparedKey } from '../../shared/core/record-keys.ts'
import type { FailpointName } from '../../shared/io/runtime/failpoints.ts'
import { waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, replicas, startCluster, submit, waitSettled, type LocalCluster, type TxnResponse } from './cluster.ts'

export interface CrashExpectation {
  /** What the client is told before the crash: an answer, or the connection is cut. */
  client: 'committed' | 'aborted' | 'cut-off'
  /** The outcome every replica and the status API must agree on after recovery. */
  outcome: 'committed' | 'aborted'
  /**
   * Where the crash left things, checked while the node is down: for a
   * participant, what its own LevelDB holds (read directly); for the
   * coordinator, how many participants applied the transaction.
   */
  whileDown: { preparedOnDisk: boolean; appliedOnDisk: boolean } | { applied: 'none' | 'all' | 'at most one' }
  /** The status API after recovery names this abort reason (the coordinator's restart, a participant's vote). */
  reason?: string
}

const writesOf = (failpoint: string): { key: string; value: string }[] => [{ key: 'k1', value: `v-${failpoint}` }, { key: 'k2', value: 'w' }]

/**
 * Runs one transaction into an armed failpoint, lets the node die on the
 * spot, checks that it died there (its failpoint's line, SIGKILL) and what
 * the crash left while it is down, restarts it without the failpoint, and
 * checks what recovery must guarantee: one outcome everywhere, both keys of
 * an acknowledged commit on every replica, nothing of an abort anywhere, no
 * PREPARED record or lock left, a definite status with every participant's
 * ACK of a commit (the re-sent COMMIT included), and a client retry with the
 * same id answered from the record.
 */
export async function crashScenario(t: Test, failpoint: FailpointName, expected: CrashExpectation): Promise<void> {
  const node = failpoint.startsWith('coordinator.') ? 'coordinator' : 'p2'
  const cluster = await startCluster(t, { nodeEnv: { [node]: { TXN_FAILPOINTS: `${failpoint}=crash` } } })
  const writes = writesOf(failpoint)
  const id = `client-${failpoint}`
  let told: TxnResponse | 'cut-off'
  try {
    told = (await submit(cluster, writes, { id })).body
  } catch {
    told = 'cut-off'
  }
  const exit = await cluster.waitExit(node)
  t.same(exit, { code: null, signal: 'SIGKILL' }, `${node} was killed on the spot (SIGKILL)`)
  const log = readFileSync(join(cluster.options.dataRoot, `${node}.log`), 'utf8')
  t.ok(log.includes(`failpoint ${failpoint}: crash`), `${node} died at ${failpoint}: its own line is in the log`)
  t.equal(told === 'cut-off' ? 'cut-off' : told.outcome, expected.client, 'what the client was told before the crash')

  await checkWhileDown(t, cluster, node, failpoint, expected.whileDown, told === 'cut-off' ? undefined : told.txId)

  cluster.spec(node).env.TXN_FAILPOINTS = ''
  await cluster.start(node)
  await cluster.waitReady()
  const all = await waitSettled(cluster)
  for (const r of all) {
    t.same(r.prepared, [], `no PREPARED record left on ${r.participant}`)
    t.equal(r.locks, 0, `no lock left on ${r.participant}`)
  }
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} agrees with ${all[0]!.participant}`)

  const status = await http<{ state: string; txId: string; acks?: Record<string, boolean>; ended?: boolean; reasons?: { code: string; participant: string }[] }>(`${cluster.url}/v1/transactions?id=${encodeURIComponent(id)}`)
  t.equal(status.status, 200, 'the status API knows the transaction by its client id')
  t.equal(status.body.state, expected.outcome, 'the status API gives the definite outcome')
  for (const r of all) {
    if (expected.outcome === 'committed') {
      t.same([r.entries.k1, r.entries.k2], [{ value: `v-${failpoint}`, version: 1 }, { value: 'w', version: 1 }], `both keys of the commit are on ${r.participant}`)
    } else {
      t.same([r.entries.k1, r.entries.k2], [undefined, undefined], `nothing of the aborted transaction on ${r.participant}`)
    }
  }
  if (expected.outcome === 'committed') {
    // Ended only once every participant acknowledged: the ones the crash left without COMMIT got it again.
    await waitFor(async () => (await http<{ ended?: boolean }>(`${cluster.url}/v1/transactions/${status.body.txId}`)).body.ended === true, 20_000, 'the transaction to end')
    const ended = await http<{ acks: Record<string, boolean>; ended: boolean }>(`${cluster.url}/v1/transactions/${status.body.txId}`)
    t.same(ended.body.acks, Object.fromEntries(cluster.participantNames.map((p) => [p, true])), 'every participant acknowledged the COMMIT')
  }
  if (expected.reason !== undefined) t.ok(status.body.reasons?.some((r) => r.code === expected.reason), `the abort names ${expected.reason}: ${JSON.stringify(status.body.reasons)}`)
  const retry = await submit(cluster, writes, { id })
  t.match(retry.body, { txId: status.body.txId, outcome: expected.outcome }, 'a retry with the same id returns the recorded outcome')
  // The cluster goes on.
  t.match((await submit(cluster, [{ key: 'k1', value: 'after' }])).body, { outcome: 'committed' })
}

async function checkWhileDown(t: Test, cluster: LocalCluster, node: string, failpoint: string, whileDown: CrashExpectation['whileDown'], txId: string | undefined): Promise<void> {
  if ('applied' in whileDown) {
    // The participants are up: how many applied it (and the others still hold it prepared, unable to decide alone).
    const committedOn = async (): Promise<number> => (await replicas(cluster)).filter((r) => r.entries.k1?.value === `v-${failpoint}`).length
    if (whileDown.applied === 'all') await waitFor(async () => (await committedOn()) === cluster.participantNames.length, 20_000, 'every participant to apply')
    const now = await replicas(cluster)
    const applied = now.filter((r) => r.entries.k1?.value === `v-${failpoint}`).length
    if (whileDown.applied === 'none') t.equal(applied, 0, 'no participant applied it while the coordinator is down')
    if (whileDown.applied === 'at most one') t.ok(applied <= 1, `at most the one participant that got the first COMMIT applied it (${applied})`)
    if (whileDown.applied !== 'all') t.equal(now.filter((r) => r.prepared.length === 1).length, cluster.participantNames.length - applied, 'the others hold it prepared, in doubt')
    return
  }
  // The participant is down: its LevelDB can be opened and read as it was left.
  const db = new ClassicLevel<string, unknown>(cluster.spec(node).dataDir, { valueEncoding: 'json' })
  try {
    const prepared = txId === undefined ? false : (await db.get(preparedKey(txId))) !== undefined
    const applied = (await db.get(entryKey('k1'))) !== undefined
    t.same({ preparedOnDisk: prepared, appliedOnDisk: applied }, whileDown, `what ${node}'s disk holds while it is down`)
  } finally {
    await db.close()
  }
}
