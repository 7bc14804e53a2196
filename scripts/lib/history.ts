/** One write as the client sent it: a put (values are unique per run, so a value names its transaction) or a delete. */
export type HistoryWrite = { key: string; ifVersion?: number; ifAbsent?: boolean } & ({ value: string } | { delete: true })

export type Outcome = 'committed' | 'aborted'

/**
 * A chaos run's history, Jepsen style: an `invoke` when a client starts an
 * operation, then `ok` (committed) or `fail` (aborted) when it learns the
 * outcome, `info` each time it is cut off without learning it (it then
 * retries with the same id), `rejected` for each answer other than 200 (a
 * 503 is the cluster being busy; anything else to a well-formed request is
 * a fault of the server), and `resolve` when an outcome nobody heard is
 * read afterwards through the status API. Times are ms since the run began.
 */
export type HistoryEvent =
  | { type: 'invoke'; t: number; n: number; client: number; id: string; writes: HistoryWrite[] }
  | { type: 'ok'; t: number; n: number; txId: string; versions?: Record<string, number>; attempts: number; coordinator?: number }
  | { type: 'fail'; t: number; n: number; txId?: string; reason: string; attempts: number }
  | { type: 'info'; t: number; n: number; error: string }
  | { type: 'rejected'; t: number; n: number; status: number; code: string }
  | { type: 'resolve'; t: number; n: number; outcome: Outcome | 'never-started'; txId?: string; versions?: Record<string, number>; reason?: string }

/** What the checker judges: each operation folded from its events. */
export interface TxnRecord {
  n: number
  client: number
  id: string
  writes: HistoryWrite[]
  invokedAt: number
  /** When the client learned a definite answer; absent when it never did (then `resolvedBy` says how it was found). */
  completedAt?: number
  /**
   * `never-started`: the coordinator has no record of the id after the run,
   * so no attempt reached it (it must have no effect anywhere).
   */
  outcome: Outcome | 'never-started' | 'unknown'
  resolvedBy?: 'reply' | 'retry' | 'status'
  txId?: string
  versions?: Record<string, number>
  reason?: string
  cutOffs: number
  /** Answers other than 200 the operation got, in order (then retried with the same id). */
  rejections: { status: number; code: string }[]
}

export function foldHistory(events: readonly HistoryEvent[]): TxnRecord[] {
  const records = new Map<number, TxnRecord>()
  for (const e of events) {
    if (e.type === 'invoke') {
      records.set(e.n, { n: e.n, client: e.client, id: e.id, writes: e.writes, invokedAt: e.t, outcome: 'unknown', cutOffs: 0, rejections: [] })
      continue
    }
    const r = records.get(e.n)
    if (!r) continue // an event for an operation the history never invoked: ignored, the checker sees no such op
    if (e.type === 'info') r.cutOffs++
    else if (e.type === 'rejected') r.rejections.push({ status: e.status, code: e.code })
    else if (e.type === 'ok' || e.type === 'fail') {
      r.outcome = e.type === 'ok' ? 'committed' : 'aborted'
      r.completedAt = e.t
      r.resolvedBy = r.cutOffs > 0 ? 'retry' : 'reply'
      if (e.txId !== undefined) r.txId = e.txId
      if (e.type === 'ok') {
        if (e.versions) r.versions = e.versions
      } else r.reason = e.reason
    } else {
      r.outcome = e.outcome
      r.resolvedBy = 'status'
      if (e.txId !== undefined) r.txId = e.txId
      if (e.versions) r.versions = e.versions
      if (e.reason !== undefined) r.reason = e.reason
    }
  }
  return [...records.values()].sort((a, b) => a.n - b.n)
}

/** A history file: one JSON line per event, faults included, so a run can be re-checked later. */
export type HistoryLine = HistoryEvent | { type: 'chaos'; t: number; event: 'fault' | 'heal'; kind: string; node: string }
