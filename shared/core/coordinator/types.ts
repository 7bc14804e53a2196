import type { LeaderBallot, LeaderBugs } from '../paxos/leader.ts'
import type { CommonEffect } from '../protocol/effects.ts'
import type { CoordinatorTimer } from '../protocol/timers.ts'
import type { ToCoordinator, ToParticipant } from '../protocol/messages.ts'
import type { AbortReason, Entry, Outcome, Versions, VersionsObject, Write } from '../protocol/types.ts'
import type { ApiErrorCode } from '../api-errors.ts'

export interface CoordinatorOptions {
  /** This coordinator's name, in its transaction ids (default COORDINATOR_NODE, which ids leave out). */
  name?: string
  /** Every coordinator's name, this one's included, in configuration order: they lead ballots too (default [name]). */
  coordinators?: readonly string[]
  /**
   * Write each client id's claim in its transaction (client-id-claim.ts), so that a retry at any
   * coordinator, or after retention, never runs it twice. The services always do; off, a client id is
   * remembered by this coordinator's records alone.
   */
  clientIdClaims?: boolean
  /** Names of every participant; a transaction commits only with a YES from each. */
  participants: readonly string[]
  defaultTimeoutMs: number
  maxInFlight: number
  /** How long decided transactions stay queryable (status API, client-id retries). */
  retentionMs: number
  gcIntervalMs: number
  /** Check the whole state after every step (O(transactions)): the simulator and tests, or CHECK_INVARIANTS=1. */
  checkInvariants?: boolean
  /** COMMITs re-sent to a reconnected participant per step; the rest follow, paced (default 1024). */
  maxResendsPerStep?: number
  /** Client requests (retries with one id) that may wait on one transaction (default 16); more are told `overloaded`. */
  maxWaitersPerTxn?: number
  /** How long a read waits for its participant's answer before it is answered `key_in_doubt` (default 5000). */
  readTimeoutMs?: number
  /**
   * '2pc' (the default): this coordinator decides, and its synced decision is the commit point.
   * 'paxos-commit': the participants' acceptors choose each vote; the decision record is a cache.
   */
  protocol?: '2pc' | 'paxos-commit'
  /** Paxos Commit: ballots it starts per transaction at most (the model checker's bound; unlimited without). */
  maxRecoveryRounds?: number
  /** Test-only flawed variants that the simulator must catch. Never set by the services. */
  unsafeBugs?: LeaderBugs & { replyBeforeDurable?: boolean; decisionWithoutSync?: boolean }
}

/** The decision record in the coordinator's log (`tx/<txId>`). */
export interface DecisionRecord {
  txId: string
  clientId?: string
  /** SHA-256 hex of the writes (see protocol/hash.ts), "" without a client id; a number in records written before. */
  writesHash: string | number
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
  /** SHA-256 hex of the writes (see protocol/hash.ts), "" without a client id; a number in records written before. */
  writesHash: string | number
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
  /** Paxos Commit: instance → the acceptors whose 2b (or own vote) accepted `prepared` at ballot 0. */
  accepted0?: Map<string, string[]>
  /** Paxos Commit: the recovery ballot this coordinator leads for it (after its vote timer fired). */
  recovery?: LeaderBallot
  /**
   * Its client id was claimed already (client-id-claim.ts): what its waiters are told instead of its
   * own abort, once that abort, recorded without the client id, is durable.
   */
  claimTaken?: ReplyBody
}

export interface TxnResult {
  txId: string
  id?: string
  outcome: Outcome
  reasons?: AbortReason[]
  versions?: VersionsObject
}

/** A status lookup of another coordinator's transaction, waiting for the participants' answers (lookups.ts). */
export interface PendingLookup {
  txId: string
  /** Asked, not answered yet. */
  waiting: string[]
  /** Answered that they hold it prepared, outcome unknown. */
  prepared: string[]
  /** Asked, and gone before they answered. */
  lost: string[]
  /** Paxos Commit: the recovery ballot this lookup leads, once nobody knew the outcome (lookups.ts). */
  leader?: LeaderBallot
}

export type LookupReplyBody =
  | { ok: true; txId: string; state: Outcome; learnedFrom: string }
  | { ok: false; error: 'unknown_transaction' | 'txn_in_doubt' | 'no_replica' | 'overloaded'; message: string }

/** `heldBy`: with key_in_doubt from a participant, the transaction that holds the key there. */
/** A page of a listing as a participant answered it (participant/listing.ts). */
export interface ListedPage {
  entries: { key: string; value: string; version: number }[]
  more: boolean
}

/** Why a read or a listing got no answer from a replica. */
export interface ReadFailure { ok: false; error: 'no_replica' | 'key_in_doubt' | 'overloaded'; message?: string; heldBy?: string }
export type KeyReplyBody = { ok: true; entry: Entry | null } | ReadFailure
export type ListReplyBody = { ok: true; page: ListedPage } | ReadFailure
export type ReadReplyBody = KeyReplyBody | ListReplyBody

export type ReplyBody = { ok: true; result: TxnResult } | { ok: false; error: ApiErrorCode; message?: string }

export type CoordinatorEvent =
  | { type: 'start'; now: number; epoch: number; epochs: EpochRecord[]; records: DecisionRecord[] }
  | { type: 'request'; now: number; reqId: number; clientId?: string; writes: Write[]; timeoutMs?: number }
  /** A client's read of one key: routed to a connected participant, which waits out a prepared holder. */
  | { type: 'read'; now: number; reqId: number; key: string }
  /** A client's listing of committed keys (participant/listing.ts): routed as a read. */
  | { type: 'list'; now: number; reqId: number; prefix: string; after: string; limit: number }
  /** A status lookup of a transaction this coordinator does not own: every connected participant is asked. */
  | { type: 'lookup'; now: number; reqId: number; txId: string }
  | { type: 'connected'; now: number; participant: string }
  | { type: 'disconnected'; now: number; participant: string }
  | { type: 'message'; now: number; from: string; msg: ToCoordinator }
  | { type: 'timer'; now: number; timer: CoordinatorTimer }
  | { type: 'persisted'; now: number; token: number }

export type CoordinatorEffect =
  | CommonEffect<CoordinatorTimer>
  | { type: 'send'; to: string; msg: ToParticipant }
  | { type: 'reply'; reqId: number; body: ReplyBody }
  | { type: 'readReply'; reqId: number; body: ReadReplyBody }
  | { type: 'lookupReply'; reqId: number; body: LookupReplyBody }

/** What a coordinator's write is (see PersistEffect['kind']). */
export type CoordinatorPersistKind = 'begin' | 'commit-decision' | 'abort-decision' | 'end' | 'gc' | 'confirm'

export interface CoordinatorState {
  epoch: number
  nextSeq: number
  nextToken: number
  epochs: EpochRecord[]
  connected: string[]
  txns: Map<string, Txn>
  byClientId: Map<string, string>
  /** Persist tokens in flight → what they were for. */
  pending: Map<number, { kind: CoordinatorPersistKind; txId?: string }>
  inFlight: number
  /** Reads sent to a participant, by request id, waiting for its answer. */
  reads: Map<number, { participant: string; kind: 'read' | 'list' }>
  /** Status lookups of other coordinators' transactions, by request id (lookups.ts). */
  lookups: Map<number, PendingLookup>
  /** Paxos Commit: the last ballot a lookup led in this epoch (each lookup's ballot goes above it, whatever its transaction). */
  lookupBallot: number
  /** Round-robin position over the connected participants, for reads. */
  readCursor: number
  /** Paxos Commit: whom each `confirm` write answers, with which outcome, by its token, once durable. */
  confirming: Map<number, { to: string; outcome: Outcome }>
}
