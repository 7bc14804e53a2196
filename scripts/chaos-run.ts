import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parseMix, parseRange, parseRoles } from '../services/chaos/schedule.ts'
import { createLogger } from '../shared/io/runtime/logger.ts'
import { ChaosClient } from './lib/chaos-client.ts'
import { chaosRun, type ChaosProgress, type ChaosRunReport } from './lib/chaos-run.ts'
import { startLocalChaos } from './lib/local-chaos.ts'
import { LocalCluster } from './lib/local-cluster.ts'

const usage = `npm run chaos-run -- [options]
Runs concurrent clients for a while as the chaos schedule kills, pauses and
partitions nodes, records the history, heals, and checks it. Exit 1 on any
violation.

Where:
  (default)                 starts its own local process cluster in a temp dir
  --url URL                 an existing cluster's coordinator (e.g. compose: http://127.0.0.1:8080)
  --chaos-url URL           its chaos API            (default http://127.0.0.1:8090)
  --replicas URL,URL,…      its participants' HTTP   (default http://127.0.0.1:8081,…:8083)
Workload:
  --duration S   60     --clients N  8     --keys N  40     --seed N  (random)
  --participants N  3   (local cluster only)
Faults:
  --interval MS-MS  1500-4000   wait between faults
  --fault-ms MS-MS  500-3000    how long each lasts
  --mix kill=1,pause=1,partition=1
  --roles participant,coordinator
  --max-down N  1
Output:
  --out DIR  chaos-results   history.jsonl and report.json of the run`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      'chaos-url': { type: 'string', default: 'http://127.0.0.1:8090' },
      replicas: { type: 'string', default: 'http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083' },
      duration: { type: 'string', default: '60' },
      clients: { type: 'string', default: '8' },
      keys: { type: 'string', default: '40' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      participants: { type: 'string', default: '3' },
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
  const schedule = { intervalMs: parseRange(values.interval), durationMs: parseRange(values['fault-ms']), mix: parseMix(values.mix), roles: parseRoles(values.roles), maxDown: Number(values['max-down']) }
  const outDir = resolve(values.out)
  mkdirSync(outDir, { recursive: true })
  const common = { durationMs: Number(values.duration) * 1000, seed, clients: Number(values.clients), keys: Number(values.keys), schedule, historyPath: join(outDir, `history-${seed}.jsonl`), onProgress: progressBar }

  let report: ChaosRunReport
  if (values.url !== undefined) {
    report = await chaosRun({ ...common, coordinatorUrl: values.url, replicaUrls: values.replicas.split(','), chaos: new ChaosClient(values['chaos-url']) })
  } else {
    const dataRoot = mkdtempSync(join(tmpdir(), 'txn-chaos-'))
    process.stderr.write(`local cluster in ${dataRoot} (node logs there)\n`)
    const cluster = await LocalCluster.create({ dataRoot, participants: Number(values.participants), partitionable: true })
    await cluster.startAll()
    const chaos = await startLocalChaos(cluster, createLogger('chaos', 'silent'))
    try {
      report = await chaosRun({ ...common, coordinatorUrl: cluster.url, replicaUrls: cluster.participantNames.map((p) => cluster.urlOf(p)), chaos: new ChaosClient(chaos.url) })
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
