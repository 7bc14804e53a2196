import t from 'tap'
import { judgeRun } from '../../scripts/lib/judge-run.ts'
import { runWorkload } from '../../scripts/lib/workload.ts'
import { http, startCluster } from '../helpers/cluster.ts'

interface InDoubt {
  count: number
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

t.test('Paxos Commit, a coordinator and a participant SIGKILLed together under load and both restarted: nothing lost, nothing left in doubt, no violation', async (t) => {
  const cluster = await startCluster(t, { coordinators: 2, env: { COMMIT_PROTOCOL: 'paxos-commit', RECOVERY_AFTER_MS: '300', LOG_LEVEL: 'info' } })
  const startedAt = Date.now()
  const tag = `two-down${startedAt.toString(36)}`
  let running = true
  const load = runWorkload({
    urls: cluster.coordinatorNames.map((c) => cluster.urlOf(c)),
    seed: 20261206,
    tag,
    clients: 6,
    keys: 8,
    keysPerTxn: [1, 3],
    preconditionRate: 0.25,
    thinkMs: [0, 5],
    keepGoing: () => running,
    maxAttempts: 40,
    requestTimeoutMs: 8000,
    startedAt,
  })
  await sleep(1500)
  // Both at once: c1's transactions lose their coordinator and one of their acceptors in the same instant.
  await Promise.all([cluster.kill('c1'), cluster.kill('p2')])
  await sleep(2000)
  await Promise.all([cluster.start('c1'), cluster.start('p2')])
  await cluster.waitReady()
  await sleep(1500)
  running = false
  const history = await load

  const judged = await judgeRun(cluster.coordinatorNames.map((c) => cluster.urlOf(c)), cluster.participantNames.map((p) => cluster.urlOf(p)), history, startedAt, `${tag}-`)
  const c = judged.counts
  t.comment(`tried ${c.tried}, committed ${c.committed}, aborted ${JSON.stringify(c.abortedBy)}, resolved by retry ${c.resolvedByRetry} / status ${c.resolvedByStatus}`)
  t.same(judged.violations, [], 'the checker finds nothing: every acknowledged commit on every replica, no abort applied anywhere')
  t.equal(c.unknown, 0, 'every outcome is known')
  t.ok(c.committed > 0, 'transactions committed')
  t.ok(history.some((e) => e.type === 'ok' && e.t > 1500 + 2000), 'and commits went on after both were back')
  for (const p of cluster.participantNames) t.equal((await http<InDoubt>(`${cluster.urlOf(p)}/v1/in-doubt`)).body.count, 0, `${p} has nothing in doubt`)
  const [first, ...rest] = judged.replicas
  for (const r of rest) t.same(r.entries, first!.entries, `${r.participant} holds what ${first!.participant} holds`)
})
