import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseKillForGood, parseMix, parseRange, parseRoles } from '../services/chaos/schedule.ts'
import { createLogger } from '../shared/io/runtime/logger.ts'
import { ChaosClient } from './lib/chaos-client.ts'
import { chaosRun, type ChaosProgress, type ChaosRunReport, type NamedUrl } from './lib/chaos-run.ts'
import { startLocalChaos } from './lib/local-chaos.ts'
import { LocalCluster } from './lib/local-cluster.ts'

const usage = `npm run chaos-run -- [options]
Runs concurrent clients for a while as the chaos schedule kills, pauses and
partitions nodes, records the history, heals, and checks it. Exit 1 on any
violation.

Where:
  (default)                 starts its own local process cluster in a temp dir
  --url [NAME=]URL,…        an existing cluster's coordinators (e.g. compose:
                            coordinator-1=http://127.0.0.1:8080,coordinator-2=http://127.0.0.1:8084;
                            unnamed: coordinator, or coordinator-1… for several)
  --chaos-url URL           its chaos API            (default http://127.0.0.1:8090)
  --replicas [NAME=]URL,…   its participants' HTTP   (default p1=http://127.0.0.1:8081,…:8083)
Local cluster:
  --participants N  3   --coordinators N  1   --protocol 2pc|paxos-commit  (default: the nodes' default)
Workload (clients spread over the coordinators; a client cut off retries at the next, same id):
  --duration S   60     --clients N  8     --keys N  40     --seed N  (random)
Faults:
  --interval MS-MS  1500-4000   wait between faults
  --fault-ms MS-MS  500-3000    how long each lasts
  --mix kill=1,pause=1,partition=1
  --roles participant,coordinator
  --max-down N  1               a node killed for good counts
  --kill-for-good NODE@MS       kill NODE for good MS after the start (left down to the end)
  --no-random-faults            only that kill: no random fault (a clean failover measurement)
  --require-failover            fail unless what NODE left in doubt is resolved within 2 s (the kill
                                then waits, from MS on, until NODE has a transaction in doubt)
                                of the kill and the commits per second without it stay
                                at or above half the run's fault-free rate
Output:
  --out DIR  chaos-results   history.jsonl and report.json of the run`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'chaos-url': { type: 'string', default: 'http://127.0.0.1:8090' },
      replicas: { type: 'string', default: 'p1=http://127.0.0.1:8081,p2=http://127.0.0.1:8082,p3=http://127.0.0.1:8083' },
      duration: { type: 'string', default: '60' },
      clients: { type: 'string', default: '8' },
      keys: { type: 'string', default: '40' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      participants: { type: 'string', default: '3' },
      coordinators: { type: 'string', default: '1' },
      protocol: { type: 'string' },
      'kill-for-good': { type: 'string' },
      'require-failover': { type: 'boolean', default: false },
      'no-random-faults': { type: 'boolean', default: false },
      interval: { type: 'string', default: '1500-4000' },
      'fault-ms': { type: 'string', default: '500-3000' },
      mix: { type: 'string', default: 'kill=1,pause=1,partition=1' },
      roles: { type: 'string', default: 'participant,coordinator' },
      'max-down': { type: 'string', default: '1' },
      out: { type: 'string', default: 'chaos-results' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const seed = Number(values.seed)
  if (values['no-random-faults'] && values['kill-for-good'] === undefined) throw new Error('--no-random-faults leaves no fault at all without --kill-for-good')
  const schedule = {
    // No random fault: the first would come after the longest wait the schedule allows, long after any run.
    intervalMs: values['no-random-faults'] ? ([maxScheduleWaitMs, maxScheduleWaitMs] as [number, number]) : parseRange(values.interval),
    durationMs: parseRange(values['fault-ms']),
    mix: parseMix(values.mix),
    roles: parseRoles(values.roles),
    maxDown: Number(values['max-down']),
    ...(values['kill-for-good'] === undefined ? {} : { killForGood: parseKillForGood(values['kill-for-good']) }),
  }
  const outDir = resolve(values.out)
  mkdirSync(outDir, { recursive: true })
  const common = {
    durationMs: Number(values.duration) * 1000,
    seed,
    clients: Number(values.clients),
    keys: Number(values.keys),
    schedule,
    historyPath: join(outDir, `history-${seed}.jsonl`),
    onProgress: progressBar,
    ...(values['require-failover'] ? { requireFailover: { resolveWithinMs: 2000, minRatio: 0.5 } } : {}),
  }

  let report: ChaosRunReport
  if (values.url !== undefined) {
    const coordinators = parseNamedUrls(values.url, (i, n) => (n === 1 ? 'coordinator' : `coordinator-${i + 1}`))
    report = await chaosRun({ ...common, coordinators, participants: parseNamedUrls(values.replicas, (i) => `p${i + 1}`), chaos: new ChaosClient(values['chaos-url']) })
  } else {
    const dataRoot = mkdtempSync(join(tmpdir(), 'txn-chaos-'))
    process.stderr.write(`local cluster in ${dataRoot} (node logs there)\n`)
    const env = values.protocol === undefined ? {} : { COMMIT_PROTOCOL: values.protocol }
    const cluster = await LocalCluster.create({ dataRoot, participants: Number(values.participants), coordinators: Number(values.coordinators), partitionable: true, env })
    await cluster.startAll()
    const chaos = await startLocalChaos(cluster, createLogger('chaos', 'silent'))
    try {
      const named = (names: string[]): NamedUrl[] => names.map((name) => ({ name, url: cluster.urlOf(name) }))
      report = await chaosRun({ ...common, coordinators: named(cluster.coordinatorNames), participants: named(cluster.participantNames), chaos: new ChaosClient(chaos.url) })
    } finally {
      await chaos.engine.healAll()
      await chaos.close()
      await cluster.stopAll()
    }
  }
  process.stderr.write('\n')
  printReport(report)
  const { history: _history, replicas: _replicas, ...summary } = report
  writeFileSync(join(outDir, `report-${seed}.json`), `${JSON.stringify(summary, null, 2)}\n`)
  process.stdout.write(`history: ${common.historyPath}\nreport: ${join(outDir, `report-${seed}.json`)}\nreplay the same choices with --seed ${seed}\n`)
  process.exitCode = report.violations.length > 0 ? 1 : 0
}

/** `a=http://…,http://…`: names given, or made by `unnamed(index, count)`. */
function parseNamedUrls(text: string, unnamed: (index: number, count: number) => string): NamedUrl[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean)
  return items.map((item, i) => {
    const eq = item.indexOf('=')
    return eq > 0 && !item.slice(0, eq).includes('/') ? { name: item.slice(0, eq), url: item.slice(eq + 1) } : { name: unnamed(i, items.length), url: item }
  })
}

function printFailover(r: ChaosRunReport): void {
  const f = r.failover
  const rate = (x: { perSecond: number; seconds: number } | undefined): string => (x ? `${x.perSecond.toFixed(1)} commits/s over ${x.seconds.toFixed(1)} s` : 'none')
  console.table(f.perFault.map((p) => ({ fault: `${p.kind}${p.permanent === true ? ' (for good)' : ''}`, node: p.node, from: `+${(p.fromMs / 1000).toFixed(1)}s`, to: `+${(p.toMs / 1000).toFixed(1)}s`, 'commits/s': Number(p.perSecond.toFixed(1)) })))
  console.log(`fault-free: ${rate(f.faultFree)}`)
  if (r.killedForGood.length > 0) {
    console.log(`with ${r.killedForGood.join(', ')} gone for good (no other fault): ${rate(f.onlyKilledForGood)}${f.ratioToFaultFree === undefined ? '' : `, ${f.ratioToFaultFree.toFixed(2)}× the fault-free rate`}`)
  }
  for (const k of f.inDoubtAfterKill) {
    console.log(`${k.node} killed for good at +${(k.killedAtMs / 1000).toFixed(1)}s: ${k.transactions} of its transactions in doubt on a live participant afterwards; ${k.resolvedWithinMs === undefined ? `${k.unresolved} still in doubt at the end of the workload` : `all resolved within ${k.resolvedWithinMs} ms of the kill`}`)
  }
}

/** The chaos API's longest wait between faults (services/chaos/app.ts). */
const maxScheduleWaitMs = 3_600_000

let lastLine = 0

/** A bar redrawn in place on a terminal; a line every 10 s in a log (CI). */
function progressBar(p: ChaosProgress): void {
  if (!process.stderr.isTTY && Date.now() - lastLine < 10000) return
  lastLine = Date.now()
  const width = 30
  const filled = Math.min(width, Math.round((p.elapsedMs / p.durationMs) * width))
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`
  const label = p.phase === 'workload' ? `${Math.round(p.elapsedMs / 1000)}s/${Math.round(p.durationMs / 1000)}s` : p.phase
  const text = `[${bar}] ${label}  committed ${p.ok}  aborted ${p.fail}  cut-offs ${p.info}`
  process.stderr.write(process.stderr.isTTY ? `\r${text}   ` : `${text}\n`)
}

function printReport(r: ChaosRunReport): void {
  const c = r.counts
  console.table({
    tried: c.tried,
    committed: c.committed,
    'deletes among committed writes': c.committedDeletes,
    aborted: c.aborted,
    'never started': c.neverStarted,
    'unknown, resolved by retry': c.resolvedByRetry,
    'unknown, resolved by status API': c.resolvedByStatus,
    'still unknown': c.unknown,
    violations: r.violations.length,
  })
  console.table(Object.entries(c.abortedBy).map(([reason, count]) => ({ 'aborted by reason': reason, count })))
  if (Object.keys(c.rejectedBy).length > 0) console.table(Object.entries(c.rejectedBy).map(([answer, count]) => ({ 'answers other than 200': answer, count })))
  console.table(Object.entries(c.faults).map(([kind, count]) => ({ 'faults injected': kind, count })))
  printFailover(r)
  for (const v of r.violations) {
    console.error(`VIOLATION ${v.code}: ${v.detail}`)
    for (const line of v.trace ?? []) console.error(`    ${line}`)
  }
  console.log(r.violations.length === 0 ? `OK: no violation (seed ${r.seed}, ${Math.round(r.durationMs / 1000)} s)` : `FAILED: ${r.violations.length} violation(s) (seed ${r.seed})`)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
