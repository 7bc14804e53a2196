import type { ToCoordinator, ToParticipant } from '../../core/protocol/messages.ts'
import type { PersistEffect } from '../../core/protocol/effects.ts'
import type { Timer } from '../../core/protocol/timers.ts'
import { messageLabel } from './message-label.ts'

/**
 * What one node saw of one transaction, for the console's space-time diagram
 * (GET /v1/trace/:txId on every node, gathered by the coordinator's
 * GET /v1/transactions/:txId/trace). Times are this process's monotonic clock
 * in microseconds (CLOCK_MONOTONIC: one clock for every process of a machine,
 * as bench:path uses it), so a wall-clock step never bends a diagram.
 */
export interface TraceEvent {
  /** Monotonic microseconds (process.hrtime). */
  atUs: number
  /**
   * send / recv: a protocol message (`msg` its signature, `peer` the other end when known).
   * drop: one that was not sent, its link being down (never paired with a receive).
   * write / durable: a persist handed to storage, and done (`msg` its kind, `sync`).
   * timer: a timer of this transaction fired (`msg` its kind).
   * request / answer: the client's HTTP request taken, and its answer (`msg`: the outcome).
   */
  kind: 'send' | 'drop' | 'recv' | 'write' | 'durable' | 'timer' | 'request' | 'answer'
  msg: string
  peer?: string
  sync?: boolean
  /** Pairs a write with its durable (the persist token). */
  token?: number
}

/** At most this many events per transaction: a transaction re-sent forever must not grow without end. */
export const MAX_EVENTS_PER_TXN = 256

/** TRACE_TXNS's default: the last 1,000 transactions of each node (see the README for its cost). */
export const DEFAULT_TRACE_TXNS = 1000

/** The largest TRACE_TXNS accepted. */
export const MAX_TRACE_TXNS = 100_000

/**
 * Events kept per transaction of capacity, on average: a ring holds at most
 * capacity × this many events in all (a 2PC commit makes about 17 at the
 * coordinator and 8 at a participant), evicting its oldest transactions
 * beyond. An event takes some 150 bytes, so the largest ring holds about
 * 1 GB and the default (1,000) about 10 MB, however many events each
 * transaction makes (resends during a long partition).
 */
export const EVENTS_PER_TXN_BUDGET = 64

export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/**
 * A bounded ring of trace events: the last `capacity` transactions (by first
 * event), each with at most MAX_EVENTS_PER_TXN events. Capacity 0 is off: an
 * event then costs one branch. A transaction that comes back after it was
 * evicted starts a new entry (its older events are gone, and the diagram says
 * only what is kept).
 */
export class TraceRing {
  private readonly txns = new Map<string, TraceEvent[]>()
  /** Events held, over every transaction (at most capacity × EVENTS_PER_TXN_BUDGET). */
  private events = 0
  /** Events not kept because their transaction had MAX_EVENTS_PER_TXN already. */
  truncated = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > MAX_TRACE_TXNS) throw new RangeError(`trace capacity must be an integer from 0 to ${MAX_TRACE_TXNS} (got ${capacity})`)
  }

  get enabled(): boolean {
    return this.capacity > 0
  }

  /** `atUs`: when it happened, if not now (an HTTP request whose txId is known only at its answer). */
  add(txId: string, event: Omit<TraceEvent, 'atUs'>, atUs?: number): void {
    if (this.capacity === 0) return
    let events = this.txns.get(txId)
    if (events === undefined) {
      if (this.txns.size >= this.capacity) this.evictOldest()
      events = []
      this.txns.set(txId, events)
    }
    if (events.length >= MAX_EVENTS_PER_TXN) {
      this.truncated++
      return
    }
    events.push({ atUs: atUs ?? monotonicUs(), ...event })
    this.events++
    // The budget over all transactions: the oldest go first, never the one just written to.
    while (this.events > this.capacity * EVENTS_PER_TXN_BUDGET && this.txns.size > 1) this.evictOldest()
  }

  private evictOldest(): void {
    const [txId, events] = this.txns.entries().next().value!
    this.txns.delete(txId)
    this.events -= events.length
  }

  /**
   * A protocol message sent (`peer`: to), not sent for want of a link (drop), or received (`peer`: from, when
   * the link knows it); messages of no transaction are skipped. `atUs`: taken before the send, so that no
   * receive can be stamped before it.
   */
  message(kind: 'send' | 'drop' | 'recv', msg: ToParticipant | ToCoordinator, peer: string | undefined, atUs?: number): void {
    if (this.capacity === 0) return
    const m = messageLabel(msg)
    if (m === undefined) return
    const other = kind === 'recv' ? (peer ?? m.from) : peer
    this.add(m.txId, { kind, msg: m.label, ...(other === undefined ? {} : { peer: other }) }, atUs)
  }

  /** A persist of a transaction handed to storage (`durable` false) or made durable (true). */
  persist(effect: PersistEffect, durable: boolean): void {
    if (this.capacity === 0 || effect.txId === undefined) return
    this.add(effect.txId, { kind: durable ? 'durable' : 'write', msg: effect.kind, sync: effect.sync, token: effect.token })
  }

  /** A transaction's timer fired (a vote timeout, a recovery). */
  timer(timer: Timer): void {
    if (this.capacity === 0 || !('txId' in timer)) return
    this.add(timer.txId, { kind: 'timer', msg: `${timer.kind} timer` })
  }

  /** This node's events of one transaction, oldest first (a copy). */
  get(txId: string): TraceEvent[] {
    return [...(this.txns.get(txId) ?? [])]
  }

  /** The most recent transactions first, at most `limit`. */
  recent(limit: number): { txId: string; firstUs: number; lastUs: number; events: number; answer?: string }[] {
    const out: { txId: string; firstUs: number; lastUs: number; events: number; answer?: string }[] = []
    const ids = [...this.txns.keys()]
    for (let i = ids.length - 1; i >= 0 && out.length < limit; i--) {
      const txId = ids[i]!
      const events = this.txns.get(txId)!
      const answer = events.findLast((e) => e.kind === 'answer')?.msg
      out.push({ txId, firstUs: events[0]!.atUs, lastUs: events.at(-1)!.atUs, events: events.length, ...(answer === undefined ? {} : { answer }) })
    }
    return out
  }

  get size(): number {
    return this.txns.size
  }
}
