import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { memoryLimitUnavailable } from '../../scripts/lib/memory-cgroup.ts'
import { repoRoot } from '../../scripts/lib/local-cluster.ts'

t.test('the benchmark runs end to end, in two rounds, and writes its report (a smoke run, nothing timed)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'txn-bench-smoke-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'bench.ts'), '--duration', '1', '--warmup', '1', '--levels', '1,4', '--keys', '1', '--protocols', '2pc,paxos-commit', '--rounds', '2', '--out', out], { encoding: 'utf8', timeout: 240000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /floor: sync put [\d.]+ ms/)
  t.match(run.stderr, /round 2 of 2/)
  const [file] = readdirSync(out)
  const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { rounds: number; floor: Record<string, number>; results: Record<string, unknown>[] }
  t.match(report.floor, { syncPutMs: Number, syncBatch64Ms: Number, wsRttMs: Number, trivialRouteReqPerS: Number, criticalPathMs: Number })
  t.equal(report.rounds, 2)
  t.equal(report.results.length, 4, 'one row per protocol and level, not per round')
  for (const r of report.results) {
    const each = r.rounds as { committedPerS: number }[]
    t.equal(each.length, 2, 'both rounds listed')
    t.equal(r.committedPerS, Math.max(...each.map((x) => x.committedPerS)), 'the median of two: the upper one')
  }
  t.same(report.results.map((r) => typeof r.vsTwoPc), ['object', 'object', 'number', 'number'], 'Paxos Commit rows as a ratio to 2PC\'s (null for 2PC\'s own)')
  const traffic = report.results.map((r) => [r.messagesPerCommit as number, r.framesPerCommit as number])
  t.ok(traffic.every(([messages, frames]) => frames! > 0 && messages! >= frames!), `messages and frames per commit, messages coalesced into frames: ${JSON.stringify(traffic)}`)
  // 2PC: PREPARE, vote, COMMIT, ACK per participant (12 with 3); Paxos Commit adds a 2a and a 2b each (18).
  t.ok(traffic[0]![0]! >= 11 && traffic[2]![0]! > traffic[0]![0]! + 4, `Paxos Commit sends more messages per commit than 2PC at c=1: ${traffic[2]![0]} against ${traffic[0]![0]}`)
  t.same(report.results.map((r) => [r.protocol, r.concurrency]), [['2pc', 1], ['2pc', 4], ['paxos-commit', 1], ['paxos-commit', 4]], 'both protocols, in one run')
  t.ok(report.results.every((r) => (r.committedPerS as number) > 0), 'each committed')
  t.ok(report.results.every((r) => r.traceTxns === 0 && r.vsTraceBaseline === null), 'tracing off, unless told')
  t.match(report.results[0], { concurrency: 1, participants: 3, committedPerS: Number, p50Ms: Number, p99Ms: Number, fsyncsPerCommit: { coordinator: Number, p1: Number }, peakRssMb: { p1: Number }, rssGrowth: { coordinator: { warmPeakMb: Number, peakMb: Number, growth: Number } }, rssSeries: { atS: Array } })
})

t.test('--trace-txns 1000,0: each cluster traced and not, and the traced rows as ratios to the untraced ones (a smoke run, nothing timed)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'txn-bench-trace-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'bench.ts'), '--duration', '1', '--warmup', '0', '--levels', '2', '--keys', '1', '--trace-txns', '1000,0', '--out', out], { encoding: 'utf8', timeout: 180000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /÷untraced commits\/s/)
  const [file] = readdirSync(out)
  const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { results: { traceTxns: number; committedPerS: number; vsTraceBaseline: { throughput: number; p50: number } | null }[] }
  t.same(report.results.map((r) => r.traceTxns), [1000, 0])
  const [traced, untraced] = report.results
  t.equal(traced!.vsTraceBaseline!.throughput, traced!.committedPerS / untraced!.committedPerS, 'throughput ratio to the untraced run')
  t.equal(untraced!.vsTraceBaseline, null, 'the baseline has no ratio of its own')
})

t.test('--preload: each cluster on the small data set and on bulk-loaded replicas, with start-up, RSS and ratios (a smoke run, nothing timed)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'txn-bench-preload-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  // Each participant in a memory cgroup of 300 MB, where one can be made (root, cgroup v1): the issue's bound as a container's limit.
  const unavailable = memoryLimitUnavailable()
  const limit = unavailable === undefined ? ['--memory-limit', '300'] : []
  if (unavailable !== undefined) t.comment(`--memory-limit not tried: ${unavailable}`)
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'bench.ts'), '--duration', '1', '--warmup', '0', '--levels', '2', '--keys', '1', '--preload', '20000', ...limit, '--out', out], { encoding: 'utf8', timeout: 180000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /preloaded 20000 keys of 100 B \(2pc, 3p\): loaded in [\d.]+ s, copied in [\d.]+ s; participants ready in p1 [\d.]+ s, p2 [\d.]+ s, p3 [\d.]+ s; RSS once ready p1 \d+ MB/)
  const [file] = readdirSync(out)
  const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { results: { preloaded: number; committedPerS: number; p50Ms: number; startup?: { readyMs: Record<string, number> }; vsSmallData: { throughput: number; p50: number } | null; peakAnonMb: Record<string, number>; memoryLimit: Record<string, { limitMb: number; peakMb: number; limitHits: number; oomKills: number }> }[] }
  t.same(report.results.map((r) => r.preloaded), [0, 20000], 'the small data set, then the preloaded one')
  const [small, preloaded] = report.results
  t.ok(preloaded!.committedPerS > 0, 'the preloaded cluster commits')
  t.equal(preloaded!.vsSmallData!.throughput, preloaded!.committedPerS / small!.committedPerS, 'throughput ratio to the small data set')
  t.equal(preloaded!.vsSmallData!.p50, preloaded!.p50Ms / small!.p50Ms)
  t.same(Object.keys(preloaded!.startup!.readyMs), ['p1', 'p2', 'p3'])
  t.equal(small!.vsSmallData, null)
  t.ok(Object.values(preloaded!.peakAnonMb).every((mb) => mb > 0), 'the anonymous part of each node\'s RSS')
  if (unavailable === undefined) {
    for (const r of report.results) {
      t.same(Object.keys(r.memoryLimit), ['p1', 'p2', 'p3'], 'every participant ran in its group')
      t.ok(Object.values(r.memoryLimit).every((l) => l.limitMb === 300 && l.peakMb > 20 && l.peakMb <= 300 && l.oomKills === 0), `charged, within the limit, nothing killed: ${JSON.stringify(r.memoryLimit)}`)
    }
  }
})

t.test('the critical-path timeline runs end to end for both protocols: every hop of a transaction is marked (a smoke run, nothing timed)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'txn-path-smoke-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'critical-path.ts'), '--txns', '30', '--warmup', '10', '--protocols', '2pc,paxos-commit', '--out', out], { encoding: 'utf8', timeout: 240000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /2pc: client p50 [\d.]+ ms over 30 sequential transactions/)
  t.match(run.stdout, /paxos-commit: client p50 [\d.]+ ms over 30 sequential transactions/)
  const [file] = readdirSync(out)
  type Rows = { who: string; what: string; atMs: number }[]
  const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { protocol: string; rows: Rows; runs: { protocol: string; rows: Rows }[] }
  t.equal(report.protocol, '2pc', 'the first protocol keeps the report\'s top-level rows')
  t.same(report.runs.map((r) => r.protocol), ['2pc', 'paxos-commit'])
  const inOrder = (rows: Rows, hops: [string, RegExp][], name: string): void => {
    const found = hops.map(([who, what]) => rows.find((r) => r.who === who && what.test(r.what)))
    t.ok(found.every((h) => h !== undefined), `${name}: ${JSON.stringify(rows.map((r) => `${r.who}: ${r.what}`))}`)
    const times = found.map((h) => h!.atMs)
    t.same(times, [...times].sort((a, b) => a - b), `${name}: each hop after the one before`)
  }
  // The protocol's order, whatever the timings. Only hops that follow one another in every transaction and keep
  // one label in every transaction are compared: medians of marks seen in different subsets of the transactions
  // need not keep their order. So a participant's synced writes are left out (its first one in a window may be
  // the previous transaction's apply, lingering: APPLY_LINGER_MS), and so are frames whose label depends on what
  // rode with them (a vote is `send vote` or `send ack+vote`; a CI run saw the 3rd participant's `send ack+vote`
  // median before its `recv prepare` median).
  inOrder(report.runs[0]!.rows, [
    ['coordinator', /^http request$/],
    ['coordinator', /^send prepare$/],
    ['participant 3rd', /^recv prepare$/],
    ['coordinator', /^write sync$/],
    ['coordinator', /^http reply$/],
    ['client', /^answer read$/],
  ], '2pc')
  // Paxos Commit: a participant's 2a (alone on its link to the next acceptor) after its PREPARE, the reply after it.
  inOrder(report.runs[1]!.rows, [
    ['coordinator', /^http request$/],
    ['coordinator', /^send prepare$/],
    ['participant 1st', /^recv prepare$/],
    ['participant 1st', /^send phase2a$/],
    ['coordinator', /^http reply$/],
    ['client', /^answer read$/],
  ], 'paxos-commit')
  t.ok(report.runs[1]!.rows.some((r) => r.who === 'coordinator' && /^recv (.*\+)?phase2b(\+.*)?$/.test(r.what)), 'the coordinator receives 2bs (not in 2PC)')
})
