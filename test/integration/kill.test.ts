import t from 'tap'
import { killRun } from '../../scripts/lib/kill-run.ts'
import { startCluster } from '../helpers/cluster.ts'

const seed = Number(process.env.KILL_SEED ?? 20261123)

t.test(`300 transactions from concurrent clients while random nodes are SIGKILLed and restarted (seed ${seed})`, async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' } })
  const report = await killRun(cluster, { seed, txns: 300, clients: 6, keys: 150, kills: 6, killEveryCommits: [5, 15], downMs: [50, 300], thinkMs: [10, 60] })
  t.comment(`kills: ${report.kills.length} (${report.kills.map((k) => k.node).join(' ')}); committed ${report.committed}, aborted ${report.aborted}, never started ${report.neverStarted}, cut off then resolved by retry ${report.resolvedByRetry} / by the status API ${report.resolvedByStatus}`)
  t.equal(report.kills.length, 6, 'nodes were killed during the run')
  t.ok(report.tried >= 300, `at least 300 transactions (${report.tried})`)
  t.ok(report.committed > 0, 'transactions committed despite the kills')
  t.same(report.violations, [], `no violation (replay with KILL_SEED=${seed})`)
})

t.test(`two nodes down at once: a coordinator with a participant, and two participants (seed ${seed})`, async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' } })
  const groups = [['coordinator', 'p1'], ['coordinator', 'p3'], ['p1', 'p2'], ['p2', 'p3']]
  const report = await killRun(cluster, { seed: seed + 1, txns: 200, clients: 6, keys: 150, kills: 6, killEveryCommits: [5, 15], downMs: [100, 400], thinkMs: [10, 60], groups })
  t.comment(`kills: ${report.kills.map((k) => k.node).join(' ')}; committed ${report.committed}, aborted ${report.aborted}, never started ${report.neverStarted}, resolved by retry ${report.resolvedByRetry} / by the status API ${report.resolvedByStatus}`)
  t.equal(report.kills.length, 6)
  t.ok(report.kills.every((k) => k.node.split('+').length === 2), 'every kill took two nodes down together')
  t.ok(report.kills.some((k) => k.node.startsWith('coordinator+')) && report.kills.some((k) => !k.node.includes('coordinator')), 'both kinds of pair were hit')
  t.ok(report.committed > 0, 'transactions committed between the kills')
  t.same(report.violations, [], `no violation (replay with KILL_SEED=${seed})`)
})
