import type { CoordinatorState } from '../core/coordinator/types.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantState } from '../core/participant/types.ts'
import type { PersistEffect } from '../core/protocol/effects.ts'
import type { ToCoordinator, ToParticipant } from '../core/protocol/messages.ts'
import type { Write } from '../core/protocol/types.ts'
import type { Timer } from '../core/protocol/timers.ts'
import type { Violation } from './violation.ts'

/**
 * The simulated world: the very state machines the services run, with a
 * simulated network (in-flight messages may be delivered in any order,
 * duplicated, or lost when a connection drops), simulated storage (what a
 * completed persist wrote survives a process crash, a pending persist does
 * not; a power loss also takes completed writes that no sync covered) and
 * simulated time. A world is plain data: it can be cloned and hashed.
 */
export interface SimTxn {
  clientId: string
  writes: Write[]
  /** Random runs: the client sends it no earlier than this simulated time (exhaustive runs ignore it). */
  startAt?: number
}

export interface SimConfig {
  participants: number
  txns: SimTxn[]
  /** Committed entries every participant's store holds before anything happens (key → value at version 1). */
  initialEntries?: Record<string, string>
  maxCrashes: number
  maxDisconnects: number
  maxDuplicates: number
  /**
   * Machine crashes (power losses): like a process crash, and every completed
   * write that no later sync covered is lost too, any subset of them (see
   * UnsyncedBatch). Default 0.
   */
  maxPowerLosses?: number
  /** Which roles faults may hit. */
  crashable: ('coordinator' | 'participant')[]
  /**
   * 'protocol' (exhaustive mode): only the coordinator's vote timers fire, and, while the coordinator is
   * down, Paxos Commit's recovery timers (a bound: a participant that leads a recovery while the
   * coordinator still runs is left to the random runs). 'all': sweeps and GC too, each when due (random mode).
   */
  timers: 'protocol' | 'all'
  /** A client cut off by a coordinator crash retries with the same id. */
  clientRetries: boolean
  /**
   * Each connection delivers in order (what one WebSocket over TCP does): only
   * the oldest message of a connection (sender, receiver, link, epoch) may be
   * delivered next. Without it, in-flight messages are delivered in any order.
   */
  fifo?: boolean
  /** Murat's naive backup coordinator takes over while the coordinator is down (a known-broken variant). */
  backup?: boolean
  /** '2pc' (default) or 'paxos-commit' (the participants are the acceptors; see shared/core/paxos). */
  protocol?: '2pc' | 'paxos-commit'
  /**
   * A crashed coordinator never comes back. Quiescence then asks for the
   * non-blocking property instead of progress: every transaction decided,
   * no PREPARED record and no lock left at any participant (blocked-in-doubt).
   */
  coordinatorNeverReturns?: boolean
  /** Paxos Commit: ballots each would-be leader starts per transaction at most (default 1). */
  maxRecoveryRounds?: number
  /**
   * How long participants keep resolved markers (default: for ever, so that
   * exhaustive runs never collect garbage). Short, it lets the swarm reach the
   * markers' garbage collection, which under Paxos Commit must wait for every
   * peer (a peer in doubt past retention would otherwise recover the
   * opposite outcome).
   */
  participantRetentionMs?: number
  /** The coordinator claims each client id in the replicas (CoordinatorOptions.clientIdClaims), as the services do. */
  clientIdClaims?: boolean
  /**
   * Participants hold their replica in a cache of this many bytes (ParticipantOptions.cacheBytes), as the
   * services do: each load and scan is read from the store and answered by events of its own (StoreRead).
   */
  cacheBytes?: number
  bugs?: {
    replyBeforeDurable?: boolean
    voteBeforeDurable?: boolean
    prepareWithoutSync?: boolean
    staleLoads?: boolean
    decisionWithoutSync?: boolean
    /** Paxos Commit's flawed variants (see ParticipantBugs and LeaderBugs). */
    leaderProposesPrepared?: boolean
    acceptBeforeDurable?: boolean
    smallQuorum?: boolean
    skipPhase1?: boolean
  }
}

export const COORDINATOR = 'coordinator'

/**
 * A replica cache's read of the store (a `load` or `scan` effect). A real read
 * sees the store as it is at some moment between the request and the answer:
 * so it is two events, the read (`result` taken from the store then) and the
 * answer, with any other events between them.
 */
export interface StoreRead {
  effect: Extract<ParticipantEffect, { type: 'load' | 'scan' }>
  result?: Extract<ParticipantEvent, { type: 'loaded' | 'scanned' }> extends infer E ? (E extends unknown ? Omit<E, 'now'> : never) : never
}

/** A persist effect the simulated disk has not completed yet. */
export type PendingPersist = Omit<PersistEffect, 'type'>

/**
 * A completed write that no sync has covered yet: in LevelDB, a batch in the
 * write-ahead log's page cache. A power loss may lose any subset of them, not
 * only a suffix: pages reach the disk in any order, and LevelDB's log reader
 * skips a record whose checksum fails and reads on (a batch itself is one
 * checksummed record, so it is kept or lost whole).
 */
export interface UnsyncedBatch {
  /** 'epoch': the coordinator's restart record, written outside the machine. */
  kind: PendingPersist['kind'] | 'epoch'
  txId?: string
  ops: PendingPersist['ops']
}

export interface SimNode {
  name: string
  role: 'coordinator' | 'participant'
  up: boolean
  coordinator?: CoordinatorState
  participant?: ParticipantState
  /** What a reader sees: every completed write. */
  store: Map<string, unknown>
  /**
   * Tracked only while the world has a power-loss budget left (otherwise
   * absent, so that worlds without power loss hash as before): the store as
   * the disk holds it after the last sync, and the completed writes since.
   */
  synced?: Map<string, unknown>
  unsynced?: UnsyncedBatch[]
  persists: PendingPersist[]
  /** A replica cache's reads of the store not answered yet (absent when none: worlds without a cache hash as before). */
  reads?: StoreRead[]
  /** Armed timers by key (timerKey), with when they are due. */
  timers: Map<string, { timer: Timer; at: number }>
}

/** Immutable once sent: worlds share in-flight messages. */
export interface InFlight {
  readonly id: number
  readonly from: string
  readonly to: string
  readonly msg: Readonly<ToParticipant | ToCoordinator>
  /** The connection it travels on; a dropped connection loses it. */
  readonly link: string
  readonly epoch: number
}

export interface Client {
  txn: number
  status: 'idle' | 'waiting' | 'cut' | 'answered'
  reqId?: number
  outcome?: 'committed' | 'aborted'
  txId?: string
}

export interface Ghost {
  yesVotes: Record<string, string[]>
  applied: Record<string, string[]>
  abortedPrepared: Record<string, string[]>
  told: Record<string, 'committed' | 'aborted'>
  maxVersion: Record<string, Record<string, number>>
  backupDecided: string[]
  /** Paxos Commit: "txId instance ballot value" → the acceptors that reported accepting it (a 2b, or a YES vote at ballot 0). */
  acceptances: Record<string, string[]>
  /** Paxos Commit: "txId instance" → the value chosen (accepted by a quorum at one ballot). */
  chosen: Record<string, 'prepared' | 'aborted'>
  /** Violations noted when they happened (see noteVersions and the reply effect): kept, so that they stay visible. */
  flaws: Violation[]
}

export interface World {
  now: number
  nodes: Record<string, SimNode>
  net: InFlight[]
  links: Record<string, { connected: boolean; epoch: number }>
  clients: Client[]
  budget: { crashes: number; powerLosses: number; disconnects: number; duplicates: number }
  ghost: Ghost
  nextMsgId: number
  nextReqId: number
}

export type SimEvent =
  | { kind: 'submit'; client: number }
  | { kind: 'deliver'; msg: number; duplicate: boolean }
  | { kind: 'persist'; node: string }
  /** The oldest step left of the node's replica-cache read `id`: reading the store, or answering with what it read. */
  | { kind: 'storeRead'; node: string; id: number }
  /** `timer` is the timer's key. */
  | { kind: 'timer'; node: string; timer: string }
  /**
   * restart: true restarts the node at once. Sound for exhaustive search: while
   * a node is down nothing can happen on it (its connections are gone) and its
   * restart touches only its own state, so restarting later commutes with
   * every other event; reconnection stays a separate event.
   */
  | { kind: 'crash'; node: string; restart: boolean }
  /**
   * A machine crash: a crash that also loses the node's unsynced writes,
   * except those whose bit is set in `keep` (bit i: the i-th oldest).
   */
  | { kind: 'powerLoss'; node: string; restart: boolean; keep: number }
  | { kind: 'restart'; node: string }
  | { kind: 'connect'; participant: string }
  | { kind: 'disconnect'; participant: string }
  | { kind: 'backup'; txId: string }

const namesByConfig = new WeakMap<SimConfig, readonly string[]>()

/** The connection a message travels on, one direction of it: what FIFO delivery orders by. */
export function channelOf(m: InFlight): string {
  return `${m.from}>${m.to}@${m.link}#${m.epoch}`
}

/** p1 … pN (computed once per configuration: every step asks). */
export function participantNames(config: SimConfig): readonly string[] {
  let names = namesByConfig.get(config)
  if (!names) {
    names = Object.freeze(Array.from({ length: config.participants }, (_, i) => `p${i + 1}`))
    namesByConfig.set(config, names)
  }
  return names
}
