import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot } from '../../scripts/lib/local-cluster.ts'

t.test('the benchmark runs end to end and writes its report (a smoke run, nothing timed)', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'txn-bench-smoke-'))
  t.teardown(() => { rmSync(out, { recursive: true, force: true }) })
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'bench.ts'), '--duration', '1', '--warmup', '1', '--levels', '1,4', '--keys', '1', '--out', out], { encoding: 'utf8', timeout: 180000 })
  t.equal(run.status, 0, run.stderr)
  t.match(run.stdout, /floor: sync put [\d.]+ ms/)
  const [file] = readdirSync(out)
  const report = JSON.parse(readFileSync(join(out, file!), 'utf8')) as { floor: Record<string, number>; results: Record<string, unknown>[] }
  t.match(report.floor, { syncPutMs: Number, syncBatch64Ms: Number, wsRttMs: Number, trivialRouteReqPerS: Number, criticalPathMs: Number })
  t.equal(report.results.length, 2)
  t.match(report.results[0], { concurrency: 1, participants: 3, committedPerS: Number, p50Ms: Number, p99Ms: Number, fsyncsPerCommit: { coordinator: Number, p1: Number }, peakRssMb: { p1: Number }, rssGrowth: { coordinator: { warmPeakMb: Number, peakMb: Number, growth: Number } }, rssSeries: { atS: Array } })
})
