import type { StoreOp } from '../store.ts'
import type { Timer } from './timers.ts'

/**
 * Effects the state machines return; adapters (services, simulator) perform
 * them in list order. Anything that must be durable before a message leaves is
 * never in the same list as that message: the machine emits the message only
 * when the matching `persisted` event comes back (etcd raft's Ready rule).
 */
export interface PersistEffect {
  type: 'persist'
  /** Echoed back in the `persisted` event once the batch is on disk. */
  token: number
  ops: StoreOp[]
  /** true: fsync before reporting persisted. false: may be lost by a crash, by design. */
  sync: boolean
  /**
   * What the batch records; adapters hang failpoints and counters on it.
   * Participant: `prepare` (the PREPARED record, synced), `apply` (a commit's
   * writes, synced), `abort`. Coordinator: `begin` (a client id's record),
   * `commit-decision` (the commit point, synced), `abort-decision`, `end`.
   * Both: `gc`. Participant under Paxos Commit: `promise` (its acceptor
   * record after a phase-1 promise, a leader's own included, synced), `accept`
   * (its acceptor record after accepting a 2a, synced), and `confirm` (a resolved
   * marker made durable before a peer is told so, synced).
   */
  kind: 'prepare' | 'apply' | 'abort' | 'promise' | 'accept' | 'confirm' | 'begin' | 'commit-decision' | 'abort-decision' | 'end' | 'gc'
  txId?: string
}

export interface SetTimerEffect<T extends Timer = Timer> {
  type: 'setTimer'
  /** Replaces a timer with the same key (timerKey). */
  timer: T
  afterMs: number
}

export interface CancelTimerEffect<T extends Timer = Timer> {
  type: 'cancelTimer'
  timer: T
}

export interface LogEffect {
  type: 'log'
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  txId?: string
  [field: string]: unknown
}

export type CommonEffect<T extends Timer = Timer> = PersistEffect | SetTimerEffect<T> | CancelTimerEffect<T> | LogEffect
