import t from 'tap'
import { parseMarks, timeline, type Mark } from '../../scripts/lib/timeline.ts'

const ms = (x: number): bigint => BigInt(Math.round(x * 1e6))
const marksAt = (...pairs: [number, string][]): Mark[] => pairs.map(([at, label]) => ({ at: ms(at), label }))

t.test('parseMarks reads "<ns> <label>" lines in time order and skips blank ones', async (t) => {
  t.same(parseMarks('2000000 write done\n\n1000000 recv prepare\n'), [
    { at: 1000000n, label: 'recv prepare' },
    { at: 2000000n, label: 'write done' },
  ])
})

t.test('timeline: medians since the client sent, repeated marks numbered, participants ranked by their first rankBy mark', async (t) => {
  const windows = [
    { start: ms(0), end: ms(10) },
    { start: ms(100), end: ms(112) },
  ]
  const coordinator = marksAt([1, 'http request'], [5, 'recv vote'], [6, 'recv vote'], [9, 'http reply'], [50, 'gc'], [101, 'http request'], [105, 'recv vote'], [108, 'recv vote'], [111, 'http reply'])
  // In the first window p1 hears of the transaction first, in the second p2 does. p1's commit of the
  // previous transaction arrives before the coordinator takes the next request: left out. Its
  // commit at 103 ms comes after: kept, but it must not decide p1's rank.
  const p1 = marksAt([2, 'recv prepare'], [4, 'write done'], [100.5, 'recv commit'], [103, 'recv commit'], [104, 'recv prepare'], [107, 'write done'])
  const p2 = marksAt([3, 'recv prepare'], [5, 'write done'], [102, 'recv prepare'], [104, 'write done'])
  const options = { rankBy: 'recv prepare', startAt: 'http request' }
  const rows = timeline(windows, coordinator, [p1, p2], options)
  const at = (who: string, what: string): number | undefined => rows.find((r) => r.who === who && r.what === what)?.atMs
  t.equal(at('coordinator', 'http request'), 1)
  t.equal(at('coordinator', 'recv vote'), 5)
  t.equal(at('coordinator', 'recv vote #2'), 8, 'the median of 6 and 8 ms (upper of two)')
  t.equal(at('participant 1st', 'recv prepare'), 2, 'p1 first, then p2: both 2 ms after the send')
  t.equal(at('participant 2nd', 'recv prepare'), 4, '3 and 4 ms')
  t.equal(at('participant 2nd', 'write done'), 7, '5 and 7 ms')
  t.equal(at('client', 'answer read'), 12)
  t.equal(at('coordinator', 'gc'), undefined, 'outside every window')
  t.same(rows.filter((r) => r.what.startsWith('recv commit')).map((r) => [r.who, r.what, r.atMs]), [['participant 2nd', 'recv commit', 3]], 'seen in half the windows: kept by default; the one before the request is left out')
  const stricter = timeline(windows, coordinator, [p1, p2], { ...options, minShare: 0.6 })
  t.same(stricter.length, rows.length - 1, 'left out with a higher minShare')
  t.notOk(stricter.some((r) => r.what === 'recv commit'))
  t.same(rows.map((r) => r.atMs), [...rows.map((r) => r.atMs)].sort((a, b) => a - b), 'in time order')
  t.same(rows.find((r) => r.what === 'http reply'), { who: 'coordinator', what: 'http reply', atMs: 11, seen: 2 })
})

t.test('timeline: a participant without the rankBy mark ranks last, a silent one is left out, ranks go past 3rd', async (t) => {
  const windows = [{ start: ms(0), end: ms(10) }]
  // No coordinator mark to start at: the window starts at the client's send.
  const rows = timeline(windows, [], [marksAt([1, 'recv commit']), marksAt([2, 'recv prepare']), [], marksAt([3, 'recv prepare']), marksAt([4, 'recv prepare'])], { rankBy: 'recv prepare', startAt: 'http request' })
  t.same(rows.map((r) => `${r.who}: ${r.what}`), [
    'participant 4th: recv commit',
    'participant 1st: recv prepare',
    'participant 2nd: recv prepare',
    'participant 3rd: recv prepare',
    'client: answer read',
  ])
})
