import type { StoreOp } from '../store.ts'

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
  /** What the batch records; adapters hang failpoints and counters on it. */
  kind: 'prepare' | 'apply' | 'abort' | 'begin' | 'decision' | 'end' | 'gc'
  txId?: string
}

export interface SetTimerEffect {
  type: 'setTimer'
  timer: string
  afterMs: number
}

export interface CancelTimerEffect {
  type: 'cancelTimer'
  timer: string
}

export interface LogEffect {
  type: 'log'
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  txId?: string
  [field: string]: unknown
}

export type CommonEffect = PersistEffect | SetTimerEffect | CancelTimerEffect | LogEffect
