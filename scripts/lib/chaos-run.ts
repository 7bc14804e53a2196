import { writeFileSync } from 'node:fs'
import { coordinatorOf } from '../../shared/core/protocol/tx-id.ts'
import type { ScheduleOptions } from '../../services/chaos/schedule.ts'
import type { ChaosClient } from './chaos-client.ts'
import type { FaultMark, RunViolation } from './checker.ts'
import { measureFailover, sampleInDoubt, type FailoverReport } from './failover.ts'
import type { HistoryLine } from './history.ts'
import { judgeRun, waitAllReady, type Judgement } from './judge-run.ts'
import { runWorkload } from './workload.ts'
import { authHeaders } from './credentials.ts'

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/** A node's name in the chaos API and its HTTP base URL. */
export interface NamedUrl {
  name: string
  url: string
}

export interface ChaosRunOptions {
  /** Every coordinator: the clients spread over them and fail over between them. */
  coordinators: NamedUrl[]
  /** Every participant (for /readyz, /v1/in-doubt and /v1/replica). */
  participants: NamedUrl[]
  chaos: ChaosClient
  durationMs: number
  seed: number
  clients: number
  keys: number
  schedule: Omit<ScheduleOptions, 'seed'>
  /** Where the history goes (JSON lines: operations and faults). */
  historyPath?: string
  onProgress?: (progress: ChaosProgress) => void
  /**
   * Fail the run (as violations) when a coordinator killed for good left
   * transactions in doubt longer than `resolveWithinMs` after the kill, or
   * the commits per second without it fell below `minRatio` of the run's
   * fault-free rate.
   */
  requireFailover?: { resolveWithinMs: number; minRatio: number }
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
  /** Nodes killed for good and left down, to the end of the run. */
  killedForGood: string[]
  failover: FailoverReport
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
  const inDoubt = o.schedule.killForGood ? sampleInDoubt(o.participants.map((p) => p.url), startedAt) : undefined
  // Gated on failover: the kill for good is this runner's, at the first moment after the planned one when the
  // node has a transaction in doubt somewhere, so that "what it left in doubt is resolved in time" is never
  // passed by a kill that left nothing (a kill at a fixed time did, in CI). Otherwise the schedule kills it.
  const { killForGood, ...rest } = o.schedule
  const ownKill = o.requireFailover !== undefined ? killForGood : undefined
  const schedule = ownKill === undefined ? o.schedule : rest
  let killing: Promise<void> | undefined
  try {
    await o.chaos.healAll(true) // a clean start: no fault left from before (kills for good too), no schedule running
    await o.chaos.startSchedule({ ...schedule, seed: o.seed })
    if (ownKill !== undefined) killing = killWhileInDoubt(o, ownKill, startedAt)
    const history = await runWorkload({
      urls: o.coordinators.map((c) => c.url),
      seed: o.seed,
      tag,
      clients: o.clients,
      keys: o.keys,
      keysPerTxn: [1, 4],
      preconditionRate: 0.25,
      // Deletes are writes like any other: a lost delete or a resurrected key is a violation (checker.ts).
      deleteRate: 0.1,
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
    const workloadEndMs = Date.now() - startedAt
    await killing
    const samples = await inDoubt?.stop()
    progress.phase = 'healing'
    const healed = await o.chaos.healAll()
    if (healed.failed.length > 0) throw new Error(`could not heal: ${healed.failed.map((f) => `${f.fault.kind} ${f.fault.node}: ${f.error}`).join('; ')}`)
    // A node killed for good stays down: the run is judged by the nodes left, as a cluster that lost a machine would be.
    const gone = new Set(healed.kept.map((f) => f.node))
    const coordinators = o.coordinators.filter((c) => !gone.has(c.name))
    const participants = o.participants.filter((p) => !gone.has(p.name))
    await waitAllReady([...participants.map((p) => `${p.url}/readyz`), ...coordinators.map((c) => `${c.url}/readyz`)])
    progress.phase = 'checking'
    const faultLog = (await o.chaos.events()).map((e) => ({ t: Date.parse(e.at) - startedAt, event: e.event, kind: e.kind, node: e.node })).filter((f) => f.t >= 0)
    const judged = await judgeRun(coordinators.map((c) => c.url), participants.map((p) => p.url), history, startedAt, `${tag}-`, faultLog)
    const failover = measureFailover(history, faultLog, workloadEndMs, gone, samples)
    if (o.requireFailover) judged.violations.push(...failoverViolations(failover, o.requireFailover))
    if (o.historyPath !== undefined) writeHistory(o.historyPath, judged, faultLog)
    return { ...judged, seed: o.seed, tag, durationMs: Date.now() - startedAt, faultLog, killedForGood: [...gone], failover }
  } finally {
    clearInterval(tick)
    await killing?.catch(() => undefined)
    await inDoubt?.stop()
  }
}

/**
 * Kills `plan.node` for good through the chaos API at the first moment,
 * from `plan.afterMs` on, when a live participant lists one of its
 * transactions in doubt (polled every 10 ms; after 10 s of looking, at once).
 */
async function killWhileInDoubt(o: ChaosRunOptions, plan: { node: string; afterMs: number }, startedAt: number): Promise<void> {
  await sleep(Math.max(0, startedAt + plan.afterMs - Date.now()))
  const giveUpAt = Date.now() + 10_000
  const holding = async (url: string): Promise<boolean> => {
    try {
      const body = (await (await fetch(`${url}/v1/in-doubt`, { headers: authHeaders('admin'), signal: AbortSignal.timeout(500) })).json()) as { transactions?: { txId: string }[] }
      return (body.transactions ?? []).some((tx) => coordinatorOf(tx.txId) === plan.node)
    } catch {
      return false
    }
  }
  while (Date.now() < giveUpAt && !(await Promise.all(o.participants.map(async (p) => holding(p.url)))).includes(true)) await sleep(10)
  await o.chaos.inject({ kind: 'kill', node: plan.node, permanent: true })
}

/** The failover targets as violations, so that a run that misses them fails like one that breaks a guarantee. */
function failoverViolations(f: FailoverReport, want: NonNullable<ChaosRunOptions['requireFailover']>): RunViolation[] {
  const violations: RunViolation[] = []
  for (const k of f.inDoubtAfterKill) {
    if (k.resolvedWithinMs === undefined || k.resolvedWithinMs > want.resolveWithinMs) {
      violations.push({ code: 'in-doubt-too-long', detail: `${k.node} killed for good at +${k.killedAtMs} ms left ${k.transactions} transaction(s) in doubt, ${k.resolvedWithinMs === undefined ? `${k.unresolved} still at the end of the workload` : `resolved ${k.resolvedWithinMs} ms after the kill`} (want ≤ ${want.resolveWithinMs} ms)` })
    }
  }
  if (f.inDoubtAfterKill.length === 0) violations.push({ code: 'failover-too-slow', detail: 'no coordinator was killed for good: nothing to measure' })
  else if (f.ratioToFaultFree === undefined || f.ratioToFaultFree < want.minRatio) {
    violations.push({ code: 'failover-too-slow', detail: `commits per second without the killed node: ${f.onlyKilledForGood?.perSecond.toFixed(1) ?? 'none'}, fault-free ${f.faultFree.perSecond.toFixed(1)} (ratio ${f.ratioToFaultFree?.toFixed(2) ?? 'none'}, want ≥ ${want.minRatio})` })
  }
  return violations
}

function writeHistory(path: string, judged: Judgement, faults: FaultMark[]): void {
  const lines: HistoryLine[] = [...judged.history]
  const merged = [...lines.map((l) => ({ t: l.t, line: JSON.stringify(l) })), ...faults.map((f) => ({ t: f.t, line: JSON.stringify({ type: 'chaos', ...f }) }))].sort((a, b) => a.t - b.t)
  writeFileSync(path, `${merged.map((m) => m.line).join('\n')}\n`)
}
