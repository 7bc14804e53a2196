import { coordinatorOf } from '../../shared/core/protocol/tx-id.ts'
import type { FaultMark } from './checker.ts'
import type { HistoryEvent } from './history.ts'
import { authHeaders } from './credentials.ts'

/**
 * What a chaos run measures about faults, beside the checker's verdict: how
 * fast the cluster commits during each fault against the fault-free rate of
 * the same run, and, for a coordinator killed for good, how long the
 * transactions it left in doubt stayed in doubt.
 */
export interface FailoverReport {
  /** Commits per second over the run's fault-free time. */
  faultFree: RateOver
  /** Commits per second while the only faults active were kills for good (the cluster carrying on without those nodes). */
  onlyKilledForGood?: RateOver
  /** `onlyKilledForGood.perSecond ÷ faultFree.perSecond`. */
  ratioToFaultFree?: number
  /** Per fault: commits per second while it lasted (other faults may have overlapped). */
  perFault: { kind: string; node: string; fromMs: number; toMs: number; perSecond: number; permanent?: boolean }[]
  /** Per coordinator killed for good: its transactions in doubt on a live participant after the kill, and when the last was resolved. */
  inDoubtAfterKill: InDoubtAfterKill[]
}

export interface RateOver {
  seconds: number
  commits: number
  perSecond: number
}

export interface InDoubtAfterKill {
  node: string
  killedAtMs: number
  /** Its transactions seen in doubt on a live participant after the kill. */
  transactions: number
  /** From the kill until no live participant held any of them (the first poll that found none), in ms; 0 when none was left; absent while some still were at the end. */
  resolvedWithinMs?: number
  /** Still in doubt at the last poll. */
  unresolved: number
}

/** One look at every live participant's `GET /v1/in-doubt`, at a time in ms since the run began. */
export interface InDoubtSample {
  t: number
  txIds: string[]
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/**
 * Polls every participant's in-doubt list until stopped. A participant that
 * does not answer (killed, paused, cut off) is left out of that sample.
 */
export function sampleInDoubt(participantUrls: readonly string[], startedAt: number, everyMs = 100): { stop: () => Promise<InDoubtSample[]> } {
  const samples: InDoubtSample[] = []
  const state = { running: true }
  const loop = (async (): Promise<void> => {
    while (state.running) {
      const lists = await Promise.all(
        participantUrls.map(async (url) => {
          try {
            const res = await fetch(`${url}/v1/in-doubt`, { headers: authHeaders('admin'), signal: AbortSignal.timeout(500) })
            const body = (await res.json()) as { transactions?: { txId: string }[] }
            return (body.transactions ?? []).map((tx) => tx.txId)
          } catch {
            return []
          }
        }),
      )
      samples.push({ t: Date.now() - startedAt, txIds: [...new Set(lists.flat())] })
      await sleep(everyMs)
    }
  })()
  return {
    stop: async () => {
      state.running = false
      await loop
      return samples
    },
  }
}

/** A fault's span in the workload, from the fault log (a fault never healed lasts to the end). */
interface Span {
  kind: string
  node: string
  from: number
  to: number
  permanent: boolean
}

function spansOf(faults: readonly FaultMark[], endMs: number, killedForGood: ReadonlySet<string>): Span[] {
  const spans: Span[] = []
  const open = new Map<string, FaultMark>()
  for (const f of [...faults].sort((a, b) => a.t - b.t)) {
    if (f.event === 'fault') open.set(f.node, f)
    else {
      const start = open.get(f.node)
      if (start) spans.push({ kind: start.kind, node: start.node, from: start.t, to: Math.min(f.t, endMs), permanent: false })
      open.delete(f.node)
    }
  }
  for (const start of open.values()) spans.push({ kind: start.kind, node: start.node, from: start.t, to: endMs, permanent: start.kind === 'kill' && killedForGood.has(start.node) })
  return spans.filter((s) => s.from < endMs).sort((a, b) => a.from - b.from)
}

/**
 * Splits the workload's time by which faults were active, and counts the
 * commits (by the time their client heard them) in each part.
 */
export function measureFailover(history: readonly HistoryEvent[], faults: readonly FaultMark[], endMs: number, killedForGood: ReadonlySet<string>, samples: readonly InDoubtSample[] = []): FailoverReport {
  const commits = history.filter((e) => e.type === 'ok' && e.t <= endMs).map((e) => e.t)
  const spans = spansOf(faults, endMs, killedForGood)
  const count = (from: number, to: number): number => commits.filter((t) => t >= from && t < to).length
  // Cut the timeline at every fault boundary; each piece has one set of active faults.
  const cuts = [...new Set([0, endMs, ...spans.flatMap((s) => [s.from, s.to])])].filter((t) => t >= 0 && t <= endMs).sort((a, b) => a - b)
  const free = { ms: 0, commits: 0 }
  const onlyForGood = { ms: 0, commits: 0 }
  for (let i = 0; i + 1 < cuts.length; i++) {
    const from = cuts[i]!
    const to = cuts[i + 1]!
    const active = spans.filter((s) => s.from <= from && s.to >= to)
    const bucket = active.length === 0 ? free : active.every((s) => s.permanent) ? onlyForGood : undefined
    if (!bucket) continue
    bucket.ms += to - from
    bucket.commits += count(from, to)
  }
  const rate = (b: { ms: number; commits: number }): RateOver => ({ seconds: b.ms / 1000, commits: b.commits, perSecond: b.ms > 0 ? (b.commits * 1000) / b.ms : 0 })
  const report: FailoverReport = {
    faultFree: rate(free),
    perFault: spans.map((s) => ({ kind: s.kind, node: s.node, fromMs: s.from, toMs: s.to, perSecond: s.to > s.from ? (count(s.from, s.to) * 1000) / (s.to - s.from) : 0, ...(s.permanent ? { permanent: true } : {}) })),
    inDoubtAfterKill: spans.filter((s) => s.permanent).map((s) => inDoubtAfter(s.node, s.from, samples)),
  }
  if (onlyForGood.ms > 0) {
    report.onlyKilledForGood = rate(onlyForGood)
    if (free.commits > 0) report.ratioToFaultFree = report.onlyKilledForGood.perSecond / report.faultFree.perSecond
  }
  return report
}

function inDoubtAfter(node: string, killedAtMs: number, samples: readonly InDoubtSample[]): InDoubtAfterKill {
  const after = samples.filter((s) => s.t >= killedAtMs)
  const mine = (s: InDoubtSample): string[] => s.txIds.filter((id) => coordinatorOf(id) === node)
  const seen = new Set(after.flatMap(mine))
  const lastWith = after.findLastIndex((s) => mine(s).length > 0)
  const clear = lastWith < 0 ? undefined : after[lastWith + 1]
  const last = after.at(-1)
  const report: InDoubtAfterKill = { node, killedAtMs, transactions: seen.size, unresolved: last ? mine(last).length : 0 }
  if (lastWith < 0) report.resolvedWithinMs = 0
  else if (clear) report.resolvedWithinMs = clear.t - killedAtMs
  return report
}
