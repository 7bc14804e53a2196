import type { AcceptorRecord } from '../paxos/acceptor.ts'
import type { ScanStart } from './listing.ts'
import type { PendingRead } from './pending-read.ts'
import type { ReplicaCache } from './replica-cache.ts'

export type { PendingRead } from './pending-read.ts'
import type { LeaderBallot, LeaderBugs } from '../paxos/leader.ts'
import type { CommonEffect } from '../protocol/effects.ts'
import type { ParticipantTimer } from '../protocol/timers.ts'
import type { ToCoordinator, ToParticipant } from '../protocol/messages.ts'
import type { Entry, Outcome, Versions, VersionsObject, Write } from '../protocol/types.ts'

export interface ParticipantOptions {
  /** How long a read waits for a key held by a prepared transaction before answering "in doubt". */
  readWaitMs: number
  /** How often prepared transactions are swept: older ones query the coordinator for the outcome. */
  sweepIntervalMs: number
  /** A prepared transaction older than this asks the coordinator for the outcome. */
  queryAfterMs: number
  /** How long resolved transaction ids are remembered (duplicate PREPARE protection). */
  retentionMs: number
  maxRemembered: number
  /** Check the whole state after every step (O(locks + transactions)): the simulator and tests, or CHECK_INVARIANTS=1. */
  checkInvariants?: boolean
  /** Reads that may wait on held keys at once (default 10,000); more are answered "in doubt" at once. */
  maxWaitingReads?: number
  /** '2pc' (the default): the coordinator decides. 'paxos-commit': each vote is chosen by the participants as acceptors. */
  protocol?: '2pc' | 'paxos-commit'
  /** Every coordinator's name, in configuration order (default [COORDINATOR_NODE]): a transaction's is in its id. */
  coordinators?: readonly string[]
  /** Paxos Commit: this participant's name, and every participant's (the acceptors), in configuration order. */
  name?: string
  participants?: readonly string[]
  /** Paxos Commit: a prepared transaction in doubt this long gets this participant as its recovery leader. */
  recoveryAfterMs?: number
  /** Paxos Commit: ballots one leader starts per transaction at most (the model checker's bound; unlimited without). */
  maxRecoveryRounds?: number
  /**
   * A replica larger than memory (replica-cache.ts): `kv` holds at most about this many bytes of it, and keys
   * not there are loaded from the store. Absent: `kv` is the whole replica (the simulator, the model checker).
   */
  cacheBytes?: number
  /** Test-only flawed variants that the simulator must catch. Never set by the services. */
  unsafeBugs?: ParticipantBugs
}

export interface ParticipantBugs extends LeaderBugs {
  voteBeforeDurable?: boolean
  prepareWithoutSync?: boolean
  /** A replica cache takes a loaded value even over one an apply gave it while the load was in flight. */
  staleLoads?: boolean
  /** An acceptor sends its 2b before its acceptance is durable. */
  acceptBeforeDurable?: boolean
  /** A recovery leader proposes what its own acceptor holds, without phase 1. */
  skipPhase1?: boolean
}

/** The PREPARED record (`prep/<txId>`): durable before the YES vote leaves. */
export interface PreparedRecord {
  txId: string
  writes: Write[]
  versions: VersionsObject
  preparedAt: number
  /** The version floors it holds, and each one's value once it commits (version-floor.ts). */
  floors?: Record<string, number>
}

/** The marker of a resolved transaction (`done/<txId>`). */
export interface ResolvedRecord {
  txId: string
  outcome: Outcome
  at: number
}

export type PreparedPhase = 'logging' | 'prepared' | 'applying' | 'aborting'

export interface PreparedTxn {
  txId: string
  writes: Write[]
  versions: Versions
  preparedAt: number
  phase: PreparedPhase
  /** An ABORT came while the PREPARED record was being written: abort once it is. */
  abortRequested: boolean
  lastQueryAt: number
  /**
   * Keys whose lock this transaction took from a committed one still writing
   * its apply (key → that transaction): if this one aborts first, the lock goes
   * back, so that the next PREPARE still sees the committed version.
   */
  handedFrom?: Map<string, string>
  /** Version floor key → the floor once this transaction commits (version-floor.ts); absent when it holds none. */
  floors?: Map<string, number>
  /** Paxos Commit: its ballot-0 proposal went to every other acceptor (widenOwnVote), once since it was prepared or recovered. */
  widened?: true
}

export type ParticipantEvent =
  /** `complete`: with a replica cache, `entries` is the whole replica (recovery.ts, cachedStart), not only its floors. */
  | { type: 'start'; now: number; entries: [string, Entry][]; prepared: PreparedRecord[]; resolved: ResolvedRecord[]; acceptors?: AcceptorRecord[]; complete?: boolean }
  /** A coordinator's link is up, or down (`coordinator` absent: COORDINATOR_NODE). */
  | { type: 'connected'; now: number; coordinator?: string }
  | { type: 'disconnected'; now: number; coordinator?: string }
  /** `from`: the coordinator whose link carried it (absent: COORDINATOR_NODE, or a peer's message, which names its sender). */
  | { type: 'message'; now: number; msg: ToParticipant; from?: string }
  | { type: 'timer'; now: number; timer: ParticipantTimer }
  | { type: 'persisted'; now: number; token: number }
  /** A `load` effect's keys as the store holds them (null: absent), in its order. */
  | { type: 'loaded'; now: number; id: number; entries: [string, Entry | null][] }
  /** A `scan` effect's page from the store; `more`: the store holds further keys of the range. */
  | { type: 'scanned'; now: number; id: number; entries: [string, Entry][]; more: boolean }

export type ParticipantEffect =
  | CommonEffect<ParticipantTimer>
  | { type: 'send'; to: string; msg: ToCoordinator }
  | { type: 'sendPeer'; to: string; msg: ToParticipant }
  /** Replica cache: read these keys' committed entries; answered by a `loaded` event with the same id. */
  | { type: 'load'; id: number; keys: string[] }
  /** Replica cache: read at most `limit` committed entries from `start` on, whose keys start with `prefix`; answered by `scanned`. */
  | { type: 'scan'; id: number; prefix: string; start: ScanStart; limit: number }



/** A message that waits for a write: to a coordinator (`to` absent: the transaction's own) or to a participant (this one included). */
export interface Outgoing {
  to?: string | undefined
  msg: ToCoordinator | ToParticipant
}


export interface ParticipantState {
  started: boolean
  /** The coordinators whose link is up. */
  connected: string[]
  nextToken: number
  kv: Map<string, Entry>
  prepared: Map<string, PreparedTxn>
  /** key → txId of the prepared transaction that holds it. */
  locks: Map<string, string>
  resolved: Map<string, ResolvedRecord>
  /** Reads waiting for a lock to go, by key, and how many in all. */
  reads: Map<string, PendingRead[]>
  waitingReads: number
  pending: Map<number, { kind: ParticipantPersistKind; txId?: string }>
  /** Paxos Commit: this node's acceptor records, by transaction. */
  acceptors: Map<string, AcceptorRecord>
  /** Paxos Commit: the recoveries this node leads, by transaction. */
  leading: Map<string, LeaderBallot>
  /** Paxos Commit: transactions whose NO vote waits for its durable marker. */
  refusing: Map<string, true>
  /** Paxos Commit: messages that leave once the write with this token is durable (persist before send). */
  after: Map<number, Outgoing[]>
  /**
   * Paxos Commit: for a resolved marker past retention, the peers known to
   * have resolved its transaction durably, and when they were last asked. In
   * memory only: after a restart every peer is asked again.
   */
  confirmations: Map<string, Confirmations>
  /** A replica larger than memory: what the cache knows and waits for (replica-cache.ts); absent when `kv` is all of it. */
  cache?: ReplicaCache
}

export interface Confirmations {
  /** The other participants that said so. */
  peers: string[]
  /** The transaction's coordinator said so: it holds the outcome durably, or has no record of the transaction. */
  coordinator: boolean
  askedAt: number
}

export type ParticipantPersistKind = 'prepare' | 'apply' | 'abort' | 'promise' | 'accept' | 'gc' | 'confirm'
