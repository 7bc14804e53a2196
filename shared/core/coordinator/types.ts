import type { CommonEffect } from '../protocol/effects.ts'
import type { ToCoordinator, ToParticipant } from '../protocol/messages.ts'
import type { AbortReason, Outcome, Versions, VersionsObject, Write } from '../protocol/types.ts'
import type { ApiErrorCode } from '../api-errors.ts'

export interface CoordinatorOptions {
  /** Names of every participant; a transaction commits only with a YES from each. */
  participants: readonly string[]
  defaultTimeoutMs: number
  maxInFlight: number
  /** How long decided transactions stay queryable (status API, client-id retries). */
  retentionMs: number
  gcIntervalMs: number
  /** Test-only flawed variants that the simulator must catch. Never set by the services. */
  unsafeBugs?: { replyBeforeDurable?: boolean }
}

/** The decision record in the coordinator's log (`tx/<txId>`). */
export interface DecisionRecord {
  txId: string
  clientId?: string
  writesHash: number
  keys: string[]
  /** 'undecided': written when a request with a client id starts, so a retry after a crash finds it. */
  outcome: Outcome | 'undecided'
  reasons?: AbortReason[]
  versions?: VersionsObject
  createdAt: number
  decidedAt?: number
  ended: boolean
}

export interface EpochRecord {
  epoch: number
  startedAt: number
}

export type TxnPhase = 'preparing' | 'committing' | 'committed' | 'aborted'

export interface Txn {
  txId: string
  clientId?: string
  writes: Write[]
  writesHash: number
  keys: string[]
  phase: TxnPhase
  votes: Map<string, 'yes' | 'no'>
  acks: string[]
  reasons: AbortReason[]
  versions: Versions
  createdAt: number
  decidedAt?: number
  endedAt?: number
  ended: boolean
  /** Client requests waiting for the outcome. */
  waiters: number[]
  /** Not in memory after a restart: the writes are not logged, only their hash. */
  recovered: boolean
}

export interface TxnResult {
  txId: string
  id?: string
  outcome: Outcome
  reasons?: AbortReason[]
  versions?: VersionsObject
}

export type ReplyBody = { ok: true; result: TxnResult } | { ok: false; error: ApiErrorCode; message?: string }

export type CoordinatorEvent =
  | { type: 'start'; now: number; epoch: number; epochs: EpochRecord[]; records: DecisionRecord[] }
  | { type: 'request'; now: number; reqId: number; clientId?: string; writes: Write[]; timeoutMs?: number }
  | { type: 'connected'; now: number; participant: string }
  | { type: 'disconnected'; now: number; participant: string }
  | { type: 'message'; now: number; from: string; msg: ToCoordinator }
  | { type: 'timer'; now: number; timer: string }
  | { type: 'persisted'; now: number; token: number }

export type CoordinatorEffect =
  | CommonEffect
  | { type: 'send'; to: string; msg: ToParticipant }
  | { type: 'reply'; reqId: number; body: ReplyBody }

export interface CoordinatorState {
  epoch: number
  nextSeq: number
  nextToken: number
  epochs: EpochRecord[]
  connected: string[]
  txns: Map<string, Txn>
  byClientId: Map<string, string>
  /** Persist tokens in flight → what they were for. */
  pending: Map<number, { kind: 'begin' | 'decision' | 'end' | 'gc'; txId?: string }>
  inFlight: number
}
