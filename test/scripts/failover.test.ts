import { createServer } from 'node:http'
import t from 'tap'
import type { FaultMark } from '../../scripts/lib/checker.ts'
import { measureFailover, sampleInDoubt } from '../../scripts/lib/failover.ts'
import type { HistoryEvent } from '../../scripts/lib/history.ts'

/** Commits heard at the given times (ms since the run began). */
const commitsAt = (times: number[]): HistoryEvent[] => times.map((t, n) => ({ type: 'ok', t, n, txId: `c2:1.${n}`, versions: {}, attempts: 1 }))
const every = (from: number, to: number, step: number): number[] => Array.from({ length: Math.floor((to - from) / step) }, (_, i) => from + i * step)
const mark = (t: number, event: 'fault' | 'heal', kind: string, node: string): FaultMark => ({ t, event, kind, node })

t.test('commits per second: fault-free time, each fault, and the time when only a node killed for good is missing', async (t) => {
  // 10 commits/s until c1 dies for good at 4 s; a pause of p2 from 6 s to 8 s stops everything; 5 commits/s otherwise.
  const history = commitsAt([...every(0, 4000, 100), ...every(4000, 6000, 200), ...every(8000, 10000, 200)])
  const faults = [mark(4000, 'fault', 'kill', 'c1'), mark(6000, 'fault', 'pause', 'p2'), mark(8000, 'heal', 'pause', 'p2')]
  const r = measureFailover(history, faults, 10000, new Set(['c1']))
  t.same(r.faultFree, { seconds: 4, commits: 40, perSecond: 10 })
  t.same(r.onlyKilledForGood, { seconds: 4, commits: 20, perSecond: 5 }, 'the pause is left out: another fault was active')
  t.equal(r.ratioToFaultFree, 0.5)
  t.same(r.perFault, [
    { kind: 'kill', node: 'c1', fromMs: 4000, toMs: 10000, perSecond: 20 / 6, permanent: true },
    { kind: 'pause', node: 'p2', fromMs: 6000, toMs: 8000, perSecond: 0 },
  ])
  t.same(r.inDoubtAfterKill, [{ node: 'c1', killedAtMs: 4000, transactions: 0, unresolved: 0, resolvedWithinMs: 0 }], 'no sample saw any of its transactions')

  const plain = measureFailover(history, [mark(2000, 'fault', 'kill', 'p1'), mark(12000, 'heal', 'kill', 'p1')], 10000, new Set())
  t.same(plain.perFault, [{ kind: 'kill', node: 'p1', fromMs: 2000, toMs: 10000, perSecond: 5 }], 'a fault healed after the workload counts to its end')
  t.equal(plain.onlyKilledForGood, undefined)
  t.equal(plain.ratioToFaultFree, undefined)
  t.same(measureFailover(history, [mark(3000, 'fault', 'pause', 'p3'), mark(3000, 'heal', 'pause', 'p3')], 10000, new Set()).perFault, [{ kind: 'pause', node: 'p3', fromMs: 3000, toMs: 3000, perSecond: 0 }], 'a fault healed at once')
  t.same(measureFailover([], [], 0, new Set()).faultFree, { seconds: 0, commits: 0, perSecond: 0 }, 'no time, no rate')
  t.same(measureFailover([], [mark(0, 'heal', 'kill', 'p1'), mark(5, 'fault', 'kill', 'c1')], 10, new Set(['c1'])).ratioToFaultFree, undefined, 'a heal with no fault is ignored; no fault-free commit, no ratio')
})

t.test('time to resolve: from the kill until no live participant holds any of the dead coordinator\'s transactions', async (t) => {
  const faults = [mark(1000, 'fault', 'kill', 'c1')]
  const samples = [
    { t: 900, txIds: ['c1:1.7'] },
    { t: 1100, txIds: ['c1:1.8', 'c1:1.9', 'c2:1.1'] },
    { t: 1900, txIds: ['c1:1.9'] },
    { t: 2300, txIds: ['c2:1.4'] },
    { t: 2400, txIds: [] },
  ]
  t.same(measureFailover([], faults, 3000, new Set(['c1']), samples).inDoubtAfterKill, [{ node: 'c1', killedAtMs: 1000, transactions: 2, unresolved: 0, resolvedWithinMs: 1300 }])
  const stuck = [...samples.slice(0, 3)]
  t.same(measureFailover([], faults, 3000, new Set(['c1']), stuck).inDoubtAfterKill, [{ node: 'c1', killedAtMs: 1000, transactions: 2, unresolved: 1 }], 'still in doubt at the last sample: no time to report')
  t.same(measureFailover([], faults, 3000, new Set(['c1']), []).inDoubtAfterKill, [{ node: 'c1', killedAtMs: 1000, transactions: 0, unresolved: 0, resolvedWithinMs: 0 }])
})

t.test('the sampler reads every participant\'s in-doubt list and leaves out one that does not answer', async (t) => {
  let calls = 0
  const server = createServer((_req, res) => {
    calls++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(calls % 2 === 0 ? { transactions: [{ txId: 'c1:1.1' }] } : {}))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  t.teardown(() => new Promise<void>((ok) => server.close(() => { ok() })))
  const port = (server.address() as { port: number }).port
  const sampler = sampleInDoubt([`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`, 'http://127.0.0.1:1'], Date.now(), 10)
  while (calls < 6) await new Promise((ok) => setTimeout(ok, 10))
  const samples = await sampler.stop()
  t.ok(samples.length >= 3)
  t.ok(samples.every((s) => s.txIds.length <= 1), 'the same transaction on two participants counts once; the unreachable one adds nothing')
  t.ok(samples.some((s) => s.txIds[0] === 'c1:1.1'))
})
