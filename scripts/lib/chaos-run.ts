import { writeFileSync } from 'node:fs'
import type { ScheduleOptions } from '../../services/chaos/schedule.ts'
import type { ChaosClient } from './chaos-client.ts'
import type { FaultMark } from './checker.ts'
import type { HistoryLine } from './history.ts'
import { judgeRun, waitAllReady, type Judgement } from './judge-run.ts'
import { runWorkload } from './workload.ts'

export interface ChaosRunOptions {
  coordinatorUrl: string
  /** Every participant's HTTP base URL (for /readyz and /v1/replica). */
  replicaUrls: string[]
  chaos: ChaosClient
  durationMs: number
  seed: number
  clients: number
  keys: number
  schedule: Omit<ScheduleOptions, 'seed'>
  /** Where the history goes (JSON lines: operations and faults). */
  historyPath?: string
  onProgress?: (progress: ChaosProgress) => void
}

export interface ChaosProgress {
  elapsedMs: number
  durationMs: number
  ok: number
  fail: number
  info: number
  faults: number
  phase: 'workload' | 'healing' | 'checking'
}

export interface ChaosRunReport extends Judgement {
  seed: number
  tag: string
  durationMs: number
  faultLog: FaultMark[]
}

/**
 * A chaos run: the workload for a duration while the chaos API's seeded
 * schedule injects faults; then heal everything, wait for every node, resolve
 * unknown outcomes, wait until nothing is in doubt, read the replicas and
 * check. Works the same against the compose cluster and the local one.
 */
export async function chaosRun(o: ChaosRunOptions): Promise<ChaosRunReport> {
  const startedAt = Date.now()
  const tag = `chaos${o.seed}x${startedAt.toString(36)}`
  const progress: ChaosProgress = { elapsedMs: 0, durationMs: o.durationMs, ok: 0, fail: 0, info: 0, faults: 0, phase: 'workload' }
  const tick = setInterval(() => {
    progress.elapsedMs = Date.now() - startedAt
    o.onProgress?.({ ...progress })
  }, 500)
  try {
    await o.chaos.healAll() // a clean start: no fault left from before, no schedule running
    await o.chaos.startSchedule({ ...o.schedule, seed: o.seed })
    const history = await runWorkload({
      url: o.coordinatorUrl,
      seed: o.seed,
      tag,
      clients: o.clients,
      keys: o.keys,
      keysPerTxn: [1, 4],
      preconditionRate: 0.25,
      thinkMs: [0, 20],
      keepGoing: () => Date.now() - startedAt < o.durationMs,
      maxAttempts: 30,
      requestTimeoutMs: 8000,
      startedAt,
      onEvent: (e) => {
        if (e.type === 'ok') progress.ok++
        else if (e.type === 'fail') progress.fail++
        else if (e.type === 'info') progress.info++
      },
    })
    progress.phase = 'healing'
    const healed = await o.chaos.healAll()
    if (healed.failed.length > 0) throw new Error(`could not heal: ${healed.failed.map((f) => `${f.fault.kind} ${f.fault.node}: ${f.error}`).join('; ')}`)
    await waitAllReady([...o.replicaUrls.map((u) => `${u}/readyz`), `${o.coordinatorUrl}/readyz`])
    progress.phase = 'checking'
    const faultLog = (await o.chaos.events()).map((e) => ({ t: Date.parse(e.at) - startedAt, event: e.event, kind: e.kind, node: e.node })).filter((f) => f.t >= 0)
    const judged = await judgeRun(o.coordinatorUrl, o.replicaUrls, history, startedAt, `${tag}-`, faultLog)
    if (o.historyPath !== undefined) writeHistory(o.historyPath, judged, faultLog)
    return { ...judged, seed: o.seed, tag, durationMs: Date.now() - startedAt, faultLog }
  } finally {
    clearInterval(tick)
  }
}

function writeHistory(path: string, judged: Judgement, faults: FaultMark[]): void {
  const lines: HistoryLine[] = [...judged.history]
  const merged = [...lines.map((l) => ({ t: l.t, line: JSON.stringify(l) })), ...faults.map((f) => ({ t: f.t, line: JSON.stringify({ type: 'chaos', ...f }) }))].sort((a, b) => a.t - b.t)
  writeFileSync(path, `${merged.map((m) => m.line).join('\n')}\n`)
}
