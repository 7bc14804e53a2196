import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { measureFloor, type Floor } from './lib/bench-floor.ts'
import { freePort, LocalCluster, repoRoot } from './lib/local-cluster.ts'
import { runLoad, type LoadResult } from './lib/load.ts'
import { installedPostgresVersion, POSTGRES_MISSING, PostgresPeer, type PeerWrite, type PostgresSettings } from './lib/postgres-peer.ts'
import { RssSampler, rssGrowth, rssMb, type RssGrowth, type RssSeries } from './lib/rss-sampler.ts'
import { memoryLimit, memoryLimitUnavailable, type MemoryLimit } from './lib/memory-cgroup.ts'
import { preloadKey, preloadReplicas, type Preloaded } from './lib/preload.ts'
import { parsePrometheusText, valueOf } from './lib/prometheus-text.ts'
import { parseProtocols, type Protocol } from './lib/protocols.ts'
import { medianOfRounds, type RoundFigures } from './lib/rounds.ts'

const usage = `npm run bench -- [--duration S] [--levels 1,8,32,128] [--participants 3[,5,7]] [--protocols 2pc[,paxos-commit]] [--keys 1,4] [--key-space N] [--warmup S] [--rounds N] [--peer postgres] [--trace-txns N[,M]] [--preload N] [--memory-limit MB] [--out DIR]
Measures the machine's floor (synced LevelDB put, synced batch of 64,
WebSocket round trip, a do-nothing fastify route), then drives a local
cluster (separate processes, LevelDB on disk) over HTTP at each concurrency
level and reports throughput, latency, CPU, peak RSS and fsyncs per commit,
also as ratios to the floor. RSS is sampled every second: "RSS growth" is the
peak after the warm-up (the first minute, or the first half of a shorter
level) against the peak during it. Each worker writes its own keys, cycling
through --key-space of them (256), so the data set stays bounded and a
sustained run (--duration 300 --levels 128) shows the service's own memory.
Each cluster first runs --warmup seconds (3) of unmeasured load at
concurrency 8, so that the JIT and caches are warm when measuring starts.
--peer postgres also measures PostgreSQL's own two-phase commit in the same
run, after our clusters: 3 local PostgreSQL instances (created with
pg_createcluster on 127.0.0.1, dropped at the end; fsync and
synchronous_commit on, as by default), each client holding one connection
per instance and running BEGIN; INSERT … ON CONFLICT DO UPDATE; PREPARE
TRANSACTION on all three, then COMMIT PREPARED on all three, with the same
keys, values, concurrency levels, duration and warm-up. Our 3-participant
rows then show ours ÷ PostgreSQL for commits/s and p50. It needs Debian's
postgresql package (apt-get install -y postgresql).
--trace-txns 1000,0 runs each cluster once per TRACE_TXNS value (the nodes'
trace rings, for the console; 0 is off) and, with two values, prints the
other's throughput and p50 as ratios to the untraced one's (0), level by
level: the cost of tracing, measured in one run (0,1000 runs the untraced
cluster first). Without it the bench runs the
nodes with tracing off (TRACE_TXNS=0; their own default is 1000).
--preload N (e.g. 5000000) runs each cluster twice: on the small data set
above, then with N entries of 100 bytes bulk-loaded into every replica
before it starts (scripts/lib/preload.ts), its transactions writing random
keys of those N. It reports each participant's start-up time (launch to
ready) and RSS once ready, and the preloaded run's throughput and p50 as
ratios to the small one's at the same level. Peak RSS is VmRSS, with its
anonymous part (RssAnon) beside it: LevelDB reads its tables through mmap,
so the pages it reads count in VmRSS as page cache the kernel may drop.
--memory-limit MB starts every participant in a memory cgroup with that
hard limit (as a container's limit would; cgroup v1, needs root) and
reports the group's peak charge, how often the limit made the kernel
reclaim, and any process it killed.
--rounds N (1) measures everything N times, round after round (our clusters,
then the peer, in each round), and reports for each row the median of the
rounds' commits/s, p50 and p99, each taken on its own; the other figures are
those of the round with the median commits/s, and the JSON lists every
round's figures. Ratios (ours ÷ PostgreSQL, Paxos ÷ 2PC) are then ratios of
medians: this machine's speed drifts by up to 2× within an hour.
Writes JSON and a table to --out (bench-results/).`

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    levels: { type: 'string', default: '1,8,32,128' },
    participants: { type: 'string', default: '3' },
    protocols: { type: 'string', default: '2pc' },
    keys: { type: 'string', default: '1,4' },
    'key-space': { type: 'string', default: '256' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    peer: { type: 'string' },
    'trace-txns': { type: 'string' },
    preload: { type: 'string' },
    'memory-limit': { type: 'string' },
    out: { type: 'string', default: join(repoRoot, 'bench-results') },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const durationMs = Number(values.duration) * 1000
const levels = values.levels.split(',').map(Number)
const participantCounts = values.participants.split(',').map(Number)
const protocols = parseProtocols(values.protocols)
const keyCounts = values.keys.split(',').map(Number)
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: "${values.rounds}" is not a count of rounds (1 or more)`)
if (values.peer !== undefined && values.peer !== 'postgres') throw new Error(`--peer: "${values.peer}" is not postgres`)
// Said before minutes of measuring, not after: the peer cannot run without PostgreSQL, and the bench does not install it.
if (values.peer === 'postgres' && installedPostgresVersion() === undefined) {
  console.error(POSTGRES_MISSING)
  process.exit(1)
}
/** As many PostgreSQL instances as our default cluster has participants. */
const PEER_INSTANCES = 3
/**
 * TRACE_TXNS for each cluster. Off (0) unless told: tracing costs throughput (README, "Performance"), and
 * the bench measures the protocol; --trace-txns 0,1000 measures that cost.
 */
const traceSettings: number[] = (values['trace-txns'] ?? '0').split(',').map((v) => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`--trace-txns: "${v}" is not a count (0: off)`)
  return n
})
const keySpace = Number(values['key-space'])
const preload = values.preload === undefined ? 0 : Number(values.preload)
if (!Number.isInteger(preload) || preload < 0) throw new Error(`--preload: "${values.preload}" is not a count of keys`)
/** The issue's data set: entries of 100 bytes. */
const PRELOAD_VALUE_BYTES = 100
const warmupS = Math.min(60, durationMs / 2000)
const memoryLimitMb = values['memory-limit'] === undefined ? undefined : Number(values['memory-limit'])
if (memoryLimitMb !== undefined) {
  if (!Number.isInteger(memoryLimitMb) || memoryLimitMb <= 0) throw new Error(`--memory-limit: "${values['memory-limit']}" is not a size in MB`)
  const why = memoryLimitUnavailable()
  if (why !== undefined) {
    console.error(`--memory-limit: ${why}`)
    process.exit(1)
  }
}

/** A measured transaction's writes: mostly disjoint keys, each worker cycling through its own key space. Our cluster and the PostgreSQL peer get the same. */
function measuredWrites(worker: number, n: number, keysPerTxn: number): PeerWrite[] {
  return Array.from({ length: keysPerTxn }, (_, k) => ({ key: `w${worker}/k${n % keySpace}/${k}`, value: 'v'.repeat(64) }))
}

/** With --preload: random keys of the preloaded set (distinct within a transaction), the same values. */
function preloadedWrites(keysPerTxn: number): PeerWrite[] {
  const picked = new Set<number>()
  while (picked.size < keysPerTxn) picked.add(Math.floor(Math.random() * preload))
  return [...picked].map((i) => ({ key: preloadKey(i), value: 'v'.repeat(64) }))
}

/** A warm-up transaction's single write, on keys of its own. */
function warmupWrites(worker: number, n: number): PeerWrite[] {
  return [{ key: `warmup/w${worker}/k${n % keySpace}`, value: 'v' }]
}

/** CPU seconds a process has used so far, in user space and in the kernel (syscalls: fsync, socket writes). */
function cpuSeconds(pid: number | undefined): { user: number; sys: number } {
  if (pid === undefined) return { user: 0, sys: 0 }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { user: Number(stat[11]) / 100, sys: Number(stat[12]) / 100 }
}

/** WebSocket messages and frames every node of the cluster has sent so far (its /metrics: txn_link_messages_sent_total, txn_link_frames_sent_total). */
async function linkTraffic(cluster: LocalCluster): Promise<{ messages: number; frames: number }> {
  const total = { messages: 0, frames: 0 }
  for (const name of cluster.nodes.keys()) {
    const samples = parsePrometheusText(await (await fetch(`${cluster.urlOf(name)}/metrics`)).text())
    total.messages += valueOf(samples, 'txn_link_messages_sent_total')
    total.frames += valueOf(samples, 'txn_link_frames_sent_total')
  }
  return total
}

async function syncs(cluster: LocalCluster): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const name of cluster.nodes.keys()) {
    const res = await fetch(`${cluster.urlOf(name)}/v1/status`)
    out[name] = ((await res.json()) as { store: { syncs: number } }).store.syncs
  }
  return out
}

/** The do-nothing route: its round trip at concurrency 1 (latency floor) and its ceiling at the top level. */
async function trivialRoute(concurrency: number): Promise<{ rttMs: number; ceiling: LoadResult }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'trivial-server.ts')], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((ok) => child.stdout.once('data', ok))
  const origin = `http://127.0.0.1:${port}`
  const single = await runLoad(origin, '/noop', 1, Math.min(durationMs, 2000), () => '{}')
  // A ceiling is reached in seconds: a sustained run need not spend its minutes on it.
  const ceiling = await runLoad(origin, '/noop', concurrency, Math.min(durationMs, 10_000), () => '{}')
  child.kill('SIGKILL')
  return { rttMs: single.p50Ms, ceiling }
}

interface LevelReport extends LoadResult {
  protocol: Protocol
  /** TRACE_TXNS of its cluster (0: off). */
  traceTxns: number
  participants: number
  keysPerTxn: number
  /**
   * WebSocket messages, and frames, all nodes sent per commit (aborts and
   * status traffic included, so a little above the protocol's count).
   */
  messagesPerCommit: number
  framesPerCommit: number
  fsyncsPerCommit: Record<string, number>
  cpuS: Record<string, number>
  /** CPU per committed transaction, user and kernel, per process. */
  cpuMsPerCommit: Record<string, { user: number; sys: number }>
  peakRssMb: Record<string, number>
  /** The anonymous part of each node's RSS at its peak sample (see anonMb). */
  peakAnonMb: Record<string, number>
  /** With --memory-limit: each participant's cgroup (peak charge since it was limited, reclaims, kills). */
  memoryLimit: Record<string, { limitMb: number; peakMb: number; limitHits: number; oomKills: number }>
  rssGrowth: Record<string, RssGrowth>
  rssSeries: RssSeries
  /** With --preload: the entries in every replica before it started (0: the small data set), and how the participants started. */
  preloaded: number
  startup?: StartupReport
}

interface StartupReport {
  load: Preloaded
  /** Per participant: launch to /readyz 200, and its RSS then. */
  readyMs: Record<string, number>
  rssMb: Record<string, number>
}

/** Preloads the replicas, then starts each participant alone, timing it to ready, then the coordinators. */
async function startPreloaded(cluster: LocalCluster, keys: number): Promise<StartupReport> {
  process.stderr.write(`  preloading ${keys} keys of ${PRELOAD_VALUE_BYTES} bytes into ${cluster.participantNames.length} replicas…\n`)
  const load = await preloadReplicas(cluster.participantNames.map((p) => cluster.spec(p).dataDir), keys, PRELOAD_VALUE_BYTES)
  process.stderr.write(`  preloaded in ${(load.loadMs / 1000).toFixed(1)} s, copied in ${(load.copyMs / 1000).toFixed(1)} s\n`)
  const readyMs: Record<string, number> = {}
  const rss: Record<string, number> = {}
  for (const p of cluster.participantNames) {
    const started = Date.now()
    await cluster.start(p)
    readyMs[p] = Date.now() - started
    rss[p] = rssMb(cluster.pid(p) ?? 0)
    process.stderr.write(`  ${p}: ready in ${readyMs[p]} ms, RSS ${rss[p].toFixed(0)} MB\n`)
  }
  for (const c of cluster.coordinatorNames) cluster.launch(c)
  await cluster.waitReady()
  return { load, readyMs, rssMb: rss }
}

async function benchCluster(participants: number, protocol: Protocol, traceTxns: number, preloaded = 0): Promise<LevelReport[]> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-bench-'))
  // With --memory-limit: each participant starts inside its own limited group (see memory-cgroup.ts).
  const limits: Record<string, MemoryLimit> = {}
  let started: LocalCluster | undefined
  const reports: LevelReport[] = []
  try {
    if (memoryLimitMb !== undefined) for (let i = 1; i <= participants; i++) limits[`p${i}`] = memoryLimit(`p${i}`, memoryLimitMb)
    const cluster = await LocalCluster.create({ dataRoot, participants, cgroupProcs: Object.fromEntries(Object.entries(limits).map(([p, l]) => [p, l.procs])), env: { LOG_LEVEL: 'warn', OUTCOME_RETENTION_MS: '30000', GC_INTERVAL_MS: '1000', RESOLVED_RETENTION_MS: '30000', COMMIT_PROTOCOL: protocol, TRACE_TXNS: String(traceTxns) } })
    started = cluster
    const startup = preloaded > 0 ? await startPreloaded(cluster, preloaded) : undefined
    if (startup === undefined) await cluster.startAll()
    const writesFor = (w: number, n: number, keysPerTxn: number): PeerWrite[] => (preloaded > 0 ? preloadedWrites(keysPerTxn) : measuredWrites(w, n, keysPerTxn))
    const warmupMs = Number(values.warmup) * 1000
    if (warmupMs > 0) {
      process.stderr.write(`  ${participants}p: warming up for ${values.warmup} s…\n`)
      await runLoad(cluster.url, '/v1/transactions', 8, warmupMs, (w, n) => JSON.stringify({ writes: warmupWrites(w, n) }))
    }
    for (const keysPerTxn of keyCounts) {
      for (const concurrency of levels) {
        const before = await syncs(cluster)
        const trafficBefore = await linkTraffic(cluster)
        const names = [...cluster.nodes.keys()]
        const cpuBefore = Object.fromEntries(names.map((n) => [n, cpuSeconds(cluster.pid(n))]))
        const sampler = new RssSampler(Object.fromEntries(names.map((n) => [n, cluster.pid(n) ?? 0])))
        for (const limit of Object.values(limits)) limit.resetPeak()
        const load = await runLoad(cluster.url, '/v1/transactions', concurrency, durationMs, (w, n) => JSON.stringify({ writes: writesFor(w, n, keysPerTxn) }))
        const rssSeries = sampler.stop()
        const rssGrowthByNode = rssGrowth(rssSeries, warmupS)
        const after = await syncs(cluster)
        const trafficAfter = await linkTraffic(cluster)
        const perCommit = (n: number): number => (load.committed === 0 ? 0 : n / load.committed)
        const report: LevelReport = { ...load, protocol, traceTxns, participants, keysPerTxn, messagesPerCommit: perCommit(trafficAfter.messages - trafficBefore.messages), framesPerCommit: perCommit(trafficAfter.frames - trafficBefore.frames), fsyncsPerCommit: {}, cpuS: {}, cpuMsPerCommit: {}, peakRssMb: {}, peakAnonMb: {}, memoryLimit: {}, rssGrowth: rssGrowthByNode, rssSeries, preloaded, ...(startup ? { startup } : {}) }
        for (const name of names) {
          report.fsyncsPerCommit[name] = load.committed === 0 ? 0 : ((after[name] ?? 0) - (before[name] ?? 0)) / load.committed
          const cpu = cpuSeconds(cluster.pid(name))
          const user = cpu.user - cpuBefore[name]!.user
          const sys = cpu.sys - cpuBefore[name]!.sys
          report.cpuS[name] = user + sys
          report.cpuMsPerCommit[name] = { user: load.committed === 0 ? 0 : (1000 * user) / load.committed, sys: load.committed === 0 ? 0 : (1000 * sys) / load.committed }
          report.peakRssMb[name] = rssGrowthByNode[name]!.peakMb
          report.peakAnonMb[name] = Math.max(0, ...rssSeries.anonMb[name]!)
          const limit = limits[name]
          if (limit !== undefined) report.memoryLimit[name] = { limitMb: memoryLimitMb!, peakMb: limit.peakMb(), limitHits: limit.limitHits(), oomKills: limit.oomKills() }
        }
        reports.push(report)
        process.stderr.write(`  ${protocol}${traceSettings.length > 1 ? ` TRACE_TXNS=${traceTxns}` : ''}${preloaded > 0 ? ` preloaded ${preloaded}` : ''} ${participants}p ${keysPerTxn}-key c=${concurrency}: ${load.committedPerS.toFixed(0)} commits/s p50 ${load.p50Ms.toFixed(2)} ms p99 ${load.p99Ms.toFixed(2)} ms\n`)
      }
    }
  } finally {
    // Each step on its own, so that one that fails neither skips the others nor hides the error that got here.
    const steps: (() => unknown)[] = [
      async () => { await started?.terminateAll() }, // graceful, so that --cpu-prof (TXN_NODE_FLAGS) profiles get written
      async () => { await started?.stopAll() },
      ...Object.values(limits).map((limit) => () => { limit.remove() }),
      () => { rmSync(dataRoot, { recursive: true, force: true }) },
    ]
    for (const step of steps) {
      try {
        await step()
      } catch (err) {
        process.stderr.write(`  cleaning up: ${(err as Error).message}\n`)
      }
    }
  }
  return reports
}

interface PeerLevelReport extends LoadResult {
  keysPerTxn: number
}

interface PeerReport {
  name: 'postgres'
  instances: number
  ports: number[]
  settings: PostgresSettings
  results: PeerLevelReport[]
}

/** PostgreSQL's 2PC at the same levels, keys, duration and warm-up as our clusters; its instances exist only while it runs. */
async function benchPostgres(): Promise<PeerReport> {
  process.stderr.write(`  postgres: creating ${PEER_INSTANCES} instances…\n`)
  const peer = await PostgresPeer.create({ count: PEER_INSTANCES, maxClients: Math.max(8, ...levels) })
  try {
    const settings = await peer.settings()
    const warmupMs = Number(values.warmup) * 1000
    if (warmupMs > 0) {
      process.stderr.write(`  postgres: warming up for ${values.warmup} s…\n`)
      await peer.runLoad(8, warmupMs, warmupWrites)
    }
    const results: PeerLevelReport[] = []
    for (const keysPerTxn of keyCounts) {
      for (const concurrency of levels) {
        const load = await peer.runLoad(concurrency, durationMs, (w, n) => measuredWrites(w, n, keysPerTxn))
        results.push({ ...load, keysPerTxn })
        process.stderr.write(`  postgres ${PEER_INSTANCES} instances ${keysPerTxn}-key c=${concurrency}: ${load.committedPerS.toFixed(0)} commits/s p50 ${load.p50Ms.toFixed(2)} ms p99 ${load.p99Ms.toFixed(2)} ms\n`)
      }
    }
    return { name: 'postgres', instances: PEER_INSTANCES, ports: peer.ports, settings, results }
  } finally {
    await peer.destroy()
  }
}

/** Ours ÷ PostgreSQL at the same keys and concurrency: above 1 for commits/s, below 1 for p50, means ours does better. Only for our clusters of as many participants as the peer has instances. */
function versusPeer(ours: LevelReport, peer: PeerReport | undefined): { throughput: number; p50: number } | null {
  if (ours.participants !== PEER_INSTANCES) return null
  const theirs = peer?.results.find((p) => p.keysPerTxn === ours.keysPerTxn && p.concurrency === ours.concurrency)
  if (theirs === undefined) return null
  return { throughput: ours.committedPerS / theirs.committedPerS, p50: ours.p50Ms / theirs.p50Ms }
}

/** What names one of our rows: a row per cluster setting and level (and, before medianOfRounds, per round). */
const ROW_KEY = ['protocol', 'participants', 'traceTxns', 'preloaded', 'keysPerTxn', 'concurrency'] as const
type RowKey = Pick<LevelReport, (typeof ROW_KEY)[number]>

function rowKey(r: RowKey): string {
  return ROW_KEY.map((field) => String(r[field])).join('/')
}

/** The row that differs from r only in `changes` (the same level of another protocol, trace setting or data set). */
function counterpart(r: LevelReport, all: readonly LevelReport[], changes: Partial<RowKey>): LevelReport | undefined {
  const key = rowKey({ ...r, ...changes })
  return all.find((b) => rowKey(b) === key)
}

/** A Paxos Commit row's commits/s ÷ 2PC's at the same participants, trace, data set, keys and concurrency (issue 17's c=128 target); null for 2PC's own rows. */
function versusTwoPc(r: LevelReport, all: LevelReport[]): number | null {
  if (r.protocol !== 'paxos-commit') return null
  const base = counterpart(r, all, { protocol: '2pc' })
  return base === undefined ? null : r.committedPerS / base.committedPerS
}

/**
 * With --trace-txns A,B: a row of A against B's row at the same protocol, participants, data set, keys and
 * concurrency (the cost of tracing when B is 0); null for B's own rows and without two settings.
 */
function versusTraceBaseline(r: LevelReport, all: LevelReport[]): { throughput: number; p50: number } | null {
  // The baseline: tracing off (0) when it is among the settings, whichever place it has (the order the clusters run in), else the last.
  const baseline = traceSettings.includes(0) ? 0 : traceSettings.at(-1)!
  if (traceSettings.length < 2 || r.traceTxns === baseline) return null
  const base = counterpart(r, all, { traceTxns: baseline })
  return base === undefined ? null : { throughput: r.committedPerS / base.committedPerS, p50: r.p50Ms / base.p50Ms }
}

/** With --preload: a preloaded row against the small data set's row at the same protocol, trace, participants, keys and level. */
function versusSmallData(r: LevelReport, all: LevelReport[]): { throughput: number; p50: number } | null {
  if (r.preloaded === 0) return null
  const small = counterpart(r, all, { preloaded: 0 })
  return small === undefined ? null : { throughput: r.committedPerS / small.committedPerS, p50: r.p50Ms / small.p50Ms }
}

/** CPU (user + kernel) per commit: the coordinator's, and the busiest participant's. */
function cpuCell(r: LevelReport): string {
  const ms = (name: string): number => r.cpuMsPerCommit[name]!.user + r.cpuMsPerCommit[name]!.sys
  const names = Object.keys(r.cpuMsPerCommit)
  const coordinators = names.filter((n) => !/^p\d+$/.test(n))
  const participants = names.filter((n) => /^p\d+$/.test(n))
  return `${Math.max(...coordinators.map(ms)).toFixed(2)}; ${Math.max(...participants.map(ms)).toFixed(2)}`
}

/** The participants' cgroups under --memory-limit: the highest peak charge, and reclaims and kills summed. */
function memoryLimitCell(r: LevelReport): string {
  const all = Object.values(r.memoryLimit)
  const sum = (f: (l: (typeof all)[number]) => number): number => all.reduce((a, l) => a + f(l), 0)
  return `${Math.max(0, ...all.map((l) => l.peakMb)).toFixed(0)}, ${sum((l) => l.limitHits)}, ${sum((l) => l.oomKills)}`
}

/** The columns every load's row has, ours and the peer's alike. */
function loadColumns(r: LoadResult & { rounds?: RoundFigures[] }): Record<string, string | number> {
  return {
    'commits/s': Math.round(r.committedPerS),
    ...(rounds > 1 && { 'commits/s by round': (r.rounds ?? []).map((x) => Math.round(x.committedPerS)).join(' ') }),
    'abort %': (100 * r.abortRate).toFixed(1),
    errors: r.errors,
    'p50 ms': r.p50Ms.toFixed(2),
    'p95 ms': r.p95Ms.toFixed(2),
    'p99 ms': r.p99Ms.toFixed(2),
  }
}

function printPeer(peer: PeerReport): void {
  const s = peer.settings
  console.log(`PostgreSQL ${s.server_version} 2PC peer: ${peer.instances} instances on 127.0.0.1 (ports ${peer.ports.join(', ')}), one connection per client per instance; fsync ${s.fsync}, synchronous_commit ${s.synchronous_commit}, full_page_writes ${s.full_page_writes}, wal_sync_method ${s.wal_sync_method}, shared_buffers ${s.shared_buffers} (defaults); max_connections ${s.max_connections} and max_prepared_transactions ${s.max_prepared_transactions} (raised from 100 and 0 for the top level). Its latency runs to the last COMMIT PREPARED; ours to the client's answer, given at the durable decision.`)
  console.table(peer.results.map((r) => ({
    peer: 'postgres-2pc',
    instances: peer.instances,
    keys: r.keysPerTxn,
    conc: r.concurrency,
    ...loadColumns(r),
  })))
}

async function main(): Promise<void> {
  process.stderr.write('measuring the floor…\n')
  const floor: Floor = await measureFloor()
  const { rttMs: trivialRttMs, ceiling: trivial } = await trivialRoute(Math.max(...levels))
  const criticalPathMs = 2 * floor.syncPutMs + 2 * floor.wsRttMs + trivialRttMs
  const measured: LevelReport[] = []
  const peerRounds: PeerReport[] = []
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) process.stderr.write(`round ${round} of ${rounds}\n`)
    for (const protocol of protocols) {
      for (const participants of participantCounts) {
        for (const traceTxns of traceSettings) {
          measured.push(...(await benchCluster(participants, protocol, traceTxns)))
          if (preload > 0) measured.push(...(await benchCluster(participants, protocol, traceTxns, preload)))
        }
      }
    }
    // After our clusters, so that neither side's processes share the CPU with the other's measurement.
    if (values.peer === 'postgres') peerRounds.push(await benchPostgres())
  }
  const results = medianOfRounds(measured, rowKey)
  const peer: PeerReport | undefined = peerRounds[0] && { ...peerRounds[0], results: medianOfRounds(peerRounds.flatMap((p) => p.results), (r) => `${r.keysPerTxn}/${r.concurrency}`) }
  const c1 = results.find((r) => r.protocol === protocols[0] && r.concurrency === 1 && r.participants === 3 && r.keysPerTxn === 1 && r.traceTxns === traceSettings[0])
  const summary = {
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version, date: new Date().toISOString() },
    rounds,
    floor: { ...floor, trivialRouteReqPerS: trivial.requestsPerS, trivialRouteRttMs: trivialRttMs, criticalPathMs },
    results: results.map((r) => ({
      ...r,
      p50VsCriticalPath: r.p50Ms / criticalPathMs,
      throughputVsTrivialRoute: r.committedPerS / trivial.requestsPerS,
      p99VsC1P50: c1 ? r.p99Ms / c1.p50Ms : null,
      vsPostgres: versusPeer(r, peer),
      vsTraceBaseline: versusTraceBaseline(r, results),
      vsSmallData: versusSmallData(r, results),
      vsTwoPc: versusTwoPc(r, results),
    })),
    peer: peer ?? null,
  }
  mkdirSync(values.out, { recursive: true })
  const file = join(values.out, `bench-${Date.now()}.json`)
  writeFileSync(file, JSON.stringify(summary, null, 2))
  console.log(`floor: sync put ${floor.syncPutMs.toFixed(3)} ms (3 at once on 3 databases: ${floor.threeConcurrentSyncPutsMs.toFixed(3)} ms), sync batch(64) ${floor.syncBatch64Ms.toFixed(3)} ms, ws RTT ${floor.wsRttMs.toFixed(3)} ms, trivial route ${trivial.requestsPerS.toFixed(0)} req/s (one round trip ${trivialRttMs.toFixed(3)} ms); critical path ${criticalPathMs.toFixed(2)} ms`)
  console.table(summary.results.map((r) => ({
    protocol: r.protocol,
    ...(traceSettings.length > 1 && { trace: r.traceTxns }),
    ...(preload > 0 && { preloaded: r.preloaded }),
    participants: r.participants,
    keys: r.keysPerTxn,
    conc: r.concurrency,
    ...loadColumns(r),
    'p50/critical': r.p50VsCriticalPath.toFixed(2),
    'vs trivial': r.throughputVsTrivialRoute.toFixed(3),
    ...(protocols.length > 1 && { 'paxos÷2pc commits/s': r.vsTwoPc?.toFixed(2) ?? '' }),
    'msgs (frames)/commit': `${r.messagesPerCommit.toFixed(1)} (${r.framesPerCommit.toFixed(1)})`,
    'CPU ms/commit (coord.; max part.)': cpuCell(r),
    'fsync/commit (max node)': Math.max(...Object.values(r.fsyncsPerCommit)).toFixed(3),
    'peak RSS MB (max; anon)': `${Math.max(...Object.values(r.peakRssMb)).toFixed(0)}; ${Math.max(...Object.values(r.peakAnonMb)).toFixed(0)}`,
    ...(memoryLimitMb !== undefined && { 'cgroup peak MB (max), reclaims, kills': memoryLimitCell(r) }),
    'RSS growth (max)': `${(100 * Math.max(...Object.values(r.rssGrowth).map((g) => g.growth))).toFixed(1)}%`,
    ...(traceSettings.length > 1 && {
      '÷untraced commits/s': r.vsTraceBaseline?.throughput.toFixed(3) ?? '',
      '÷untraced p50': r.vsTraceBaseline?.p50.toFixed(3) ?? '',
    }),
    ...(preload > 0 && {
      '÷small commits/s': r.vsSmallData?.throughput.toFixed(3) ?? '',
      '÷small p50': r.vsSmallData?.p50.toFixed(3) ?? '',
    }),
    ...(peer && {
      'ours÷pg commits/s': r.vsPostgres?.throughput.toFixed(2) ?? '',
      'ours÷pg p50': r.vsPostgres?.p50.toFixed(2) ?? '',
    }),
  })))
  if (peer) printPeer(peer)
  for (const r of results) {
    if (r.startup === undefined || r.concurrency !== levels[0] || r.keysPerTxn !== keyCounts[0]) continue
    const { load, readyMs, rssMb: rss } = r.startup
    console.log(`preloaded ${load.keys} keys of ${load.valueBytes} B (${r.protocol}, ${r.participants}p): loaded in ${(load.loadMs / 1000).toFixed(1)} s, copied in ${(load.copyMs / 1000).toFixed(1)} s; participants ready in ${Object.entries(readyMs).map(([p, ms]) => `${p} ${(ms / 1000).toFixed(1)} s`).join(', ')}; RSS once ready ${Object.entries(rss).map(([p, mb]) => `${p} ${mb.toFixed(0)} MB`).join(', ')}`)
  }
  console.log(`results: ${file}`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
