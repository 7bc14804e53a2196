import t from 'tap'
import type { LoadResult } from '../../scripts/lib/load.ts'
import { medianOfRounds } from '../../scripts/lib/rounds.ts'

type Row = LoadResult & { protocol: string; cpu: number }

const row = (protocol: string, concurrency: number, committedPerS: number, p50Ms: number, p99Ms: number, cpu: number): Row => ({
  protocol, concurrency, durationS: 5, requests: 0, committed: 0, aborted: 0, errors: 0, committedPerS, requestsPerS: committedPerS, abortRate: 0, p50Ms, p95Ms: p50Ms, p99Ms, cpu,
})

t.test('one row per key: the medians of the rounds, each figure on its own, the rest from the median round', async (t) => {
  const rows = [
    row('2pc', 1, 500, 1.6, 5, 10),
    row('paxos-commit', 1, 300, 3.0, 9, 20),
    row('2pc', 1, 300, 2.5, 8, 11),
    row('paxos-commit', 1, 350, 2.5, 7, 21),
    row('2pc', 1, 400, 1.8, 9, 12),
    row('paxos-commit', 1, 250, 3.3, 10, 22),
  ]
  const merged = medianOfRounds(rows, (r) => `${r.protocol}/${r.concurrency}`)
  t.same(merged.map((r) => r.protocol), ['2pc', 'paxos-commit'], 'in the order first measured')
  const [twoPc, paxos] = merged
  t.equal(twoPc!.committedPerS, 400)
  t.equal(twoPc!.p50Ms, 1.8)
  t.equal(twoPc!.p99Ms, 8, 'p99 is its own median, not the median round\'s')
  t.equal(twoPc!.cpu, 12, 'other figures come from the round with the median commits/s')
  t.same(twoPc!.rounds, [{ committedPerS: 500, p50Ms: 1.6, p99Ms: 5 }, { committedPerS: 300, p50Ms: 2.5, p99Ms: 8 }, { committedPerS: 400, p50Ms: 1.8, p99Ms: 9 }], 'every round, in order')
  t.equal(paxos!.committedPerS, 300)
  t.equal(paxos!.p50Ms, 3.0)
  t.equal(paxos!.cpu, 20)
})

t.test('a single round is that round, unchanged, with its one round listed', async (t) => {
  const only = row('2pc', 128, 4000, 30, 80, 5)
  const [merged] = medianOfRounds([only], (r) => r.protocol)
  t.same(merged, { ...only, rounds: [{ committedPerS: 4000, p50Ms: 30, p99Ms: 80 }] })
})
