import { bucketTwins } from './bucket-twins.ts'
import type { SimConfig } from './world.ts'

/** 2 participants, one single-key transaction, at most 1 crash of any node: the base the others vary. */
export const oneTxn: SimConfig = {
  participants: 2,
  txns: [{ clientId: 'c1', writes: [{ key: 'x', value: 'a' }] }],
  maxCrashes: 1,
  maxDisconnects: 0,
  maxDuplicates: 0,
  crashable: ['coordinator', 'participant'],
  timers: 'protocol',
  clientRetries: true,
}

/** Two concurrent transactions on one key, the second one conditional (it commits only if it goes first). */
const twoTxnsOnOneKey: SimConfig['txns'] = [
  { clientId: 'c1', writes: [{ key: 'x', value: 'a' }] },
  { clientId: 'c2', writes: [{ key: 'x', value: 'b', ifVersion: 0 }] },
]

/**
 * Deletes are writes like any other here: x exists; one transaction deletes
 * it, another re-creates it only if absent, a third creates another key of
 * x's bucket (whose version comes from the floor the delete raises).
 */
const deleteAndRecreate: Pick<SimConfig, 'initialEntries' | 'txns'> = {
  initialEntries: { x: 'a' },
  txns: [
    { clientId: 'c1', writes: [{ key: 'x', delete: true, ifVersion: 1 }] },
    { clientId: 'c2', writes: [{ key: 'x', value: 'b', ifAbsent: true }] },
  ],
}
const deleteBesideCreate: Pick<SimConfig, 'initialEntries' | 'txns'> = {
  initialEntries: { x: 'a' },
  txns: [
    { clientId: 'c1', writes: [{ key: 'x', delete: true }] },
    { clientId: 'c2', writes: [{ key: bucketTwins('x', 1)[0]!, value: 'b' }] },
  ],
}

/**
 * A key no transaction touches: a replica holding it does not fit in a cache
 * of 1 byte, so that the cache starts with the floors only and every key is
 * loaded (an empty replica fits, and starts complete: cachedStart).
 */
const coldCache: Pick<SimConfig, 'initialEntries' | 'cacheBytes'> = { initialEntries: { y: 'a' }, cacheBytes: 1 }

/** The bounded configurations the exhaustive checker explores (npm run check:model); each completes in minutes here. */
export const modelConfigs: Record<string, SimConfig> = {
  /**
   * 1 coordinator, 2 participants, 2 concurrent transactions on one shared key, at most 1 crash of any node,
   * connections delivering in order as the WebSocket transport does (which allows partial-order reduction).
   */
  'two-txns-shared-key': { ...oneTxn, txns: twoTxnsOnOneKey, fifo: true },
  /** 3 participants, 1 transaction, at most 1 crash of any node. */
  'three-participants-one-crash': { ...oneTxn, participants: 3 },
  /**
   * 1 participant, 2 concurrent transactions on one key, at most 1 crash: two transactions on one key
   * exhaustively (including a committed transaction handing its lock on while its apply is written),
   * in a space small enough to complete (the 2-participant one does not).
   */
  'two-txns-one-participant': { ...oneTxn, participants: 1, txns: twoTxnsOnOneKey },
  /** 2 participants, 1 transaction, at most 1 crash of any node (the quick bound run by npm test). */
  'two-participants-one-crash': oneTxn,
  /**
   * 2 participants, 1 transaction, one power loss of any node: every write no
   * sync covered may be lost (any subset), which a process crash never loses.
   */
  'two-participants-power-loss': { ...oneTxn, maxCrashes: 0, maxPowerLosses: 1 },
  /**
   * 1 participant, 2 concurrent transactions on one key, one power loss: the
   * unsynced abort, begin and END records of two transactions at once.
   */
  'two-txns-one-participant-power-loss': { ...oneTxn, participants: 1, txns: twoTxnsOnOneKey, maxCrashes: 0, maxPowerLosses: 1 },
  /** 1 participant, a delete and a conditional re-create of one key at once, at most 1 crash. */
  'delete-recreate-one-participant': { ...oneTxn, participants: 1, ...deleteAndRecreate },
  /**
   * 2 participants, a delete of x beside a create of another key of x's version bucket, no crash, any
   * delivery order (with one coordinator and FIFO connections every participant sees the two in one order,
   * and a create that skipped the floor's lock would go unseen).
   */
  'delete-beside-create': { ...oneTxn, maxCrashes: 0, ...deleteBesideCreate },
  /** The same with FIFO connections and at most 1 crash of any node. */
  'delete-beside-create-fifo-crash': { ...oneTxn, fifo: true, ...deleteBesideCreate },
  /**
   * Replicas larger than memory (replica-cache.ts): two transactions on one key, 2 participants, FIFO
   * connections, no crash (the 1-crash bound is left to the swarm), every participant's cache so small that each key no transaction holds
   * is evicted after every step, so every PREPARE loads its key, and each load reads the store at any
   * moment before its answer (stale reads included).
   */
  'two-txns-shared-key-cache': { ...oneTxn, txns: twoTxnsOnOneKey, fifo: true, maxCrashes: 0, ...coldCache },
  /** The same on 1 participant, at most 1 crash. */
  'two-txns-one-participant-cache': { ...oneTxn, participants: 1, txns: twoTxnsOnOneKey, ...coldCache },
  /**
   * The same from an empty replica, which fits: the cache starts complete (a key it lacks is absent, nothing is
   * loaded) until the first commit overflows it; from then on, and after a restart, keys are loaded.
   */
  'two-txns-one-participant-cache-complete': { ...oneTxn, participants: 1, txns: twoTxnsOnOneKey, cacheBytes: 1 },
  /** A delete and a conditional re-create on 1 participant, at most 1 crash: absent keys and floors through the cache. */
  'delete-recreate-cache': { ...oneTxn, participants: 1, ...deleteAndRecreate, cacheBytes: 1 },
  /** 2 participants, 1 transaction, a dropped connection and a duplicated message. */
  'lossy-network': { ...oneTxn, maxCrashes: 0, maxDisconnects: 1, maxDuplicates: 1, crashable: [] },
}

/** Paxos Commit's base: 3 participants (2F+1 acceptors, F = 1), one transaction, the coordinator crashing for good. */
const paxosOneTxn: SimConfig = {
  ...oneTxn,
  participants: 3,
  protocol: 'paxos-commit',
  coordinatorNeverReturns: true,
  crashable: ['coordinator'],
  fifo: true,
}

/**
 * Paxos Commit's bounds (npm run check:model), and their 2PC contrast: the
 * coordinator crashes and never returns, and every transaction must still be
 * decided, with no lock left (blocked-in-doubt otherwise).
 */
export const paxosConfigs: Record<string, SimConfig> = {
  /** 2 participants (2 acceptors, F = 0: both needed), 1 transaction, the coordinator crashing for good: the quick bound run by npm test. */
  'paxos-two-participants-coordinator-gone': { ...paxosOneTxn, participants: 2 },
  /** 3 participants, 1 transaction, the coordinator crashing for good, connections in order. */
  'paxos-coordinator-gone': paxosOneTxn,
  /** The same, plus one participant crash (with restart), and two ballots per would-be leader. */
  'paxos-coordinator-gone-participant-crash': { ...paxosOneTxn, maxCrashes: 2, crashable: ['coordinator', 'participant'], maxRecoveryRounds: 2 },
  /** 3 participants, 2 transactions on one key, the coordinator crashing for good. */
  'paxos-two-txns-shared-key': { ...paxosOneTxn, txns: twoTxnsOnOneKey },
}

/** The 2PC contrast: the same bound under 2PC must be caught blocking (the seeds' TLC counterexample). */
export const blockingContrast: SimConfig = { ...paxosOneTxn, protocol: '2pc' }

/** Paxos Commit's flawed variants and the bound in which each must be caught. */
export const paxosBugConfigs: Record<string, SimConfig> = {
  'leader-proposes-prepared': { ...paxosOneTxn, bugs: { leaderProposesPrepared: true } },
  'accept-before-durable': { ...paxosOneTxn, maxCrashes: 2, crashable: ['coordinator', 'participant'], bugs: { acceptBeforeDurable: true } },
  'small-quorum': { ...paxosOneTxn, bugs: { smallQuorum: true } },
  'skip-phase-1': { ...paxosOneTxn, bugs: { skipPhase1: true } },
}

/** Bounds that do not complete here (hours): run only when named (npm run check:model -- --config NAME). */
export const openConfigs: Record<string, SimConfig> = {
  /** two-txns-shared-key with every message deliverable in any order, even two on one connection: no partial-order reduction. */
  'two-txns-shared-key-unordered': { ...oneTxn, txns: twoTxnsOnOneKey },
}

/** Flawed variants (test-only switches) and the configuration in which each must be caught. */
export const bugConfigs: Record<string, SimConfig> = {
  'reply-before-durable': { ...oneTxn, crashable: ['coordinator'], bugs: { replyBeforeDurable: true } },
  'vote-before-durable': { ...oneTxn, crashable: ['participant'], bugs: { voteBeforeDurable: true } },
  'naive-backup-coordinator': { ...oneTxn, participants: 3, maxCrashes: 2, backup: true },
  /** The participant's PREPARED record written without fsync: only a power loss can show it. */
  'prepare-without-fsync': { ...oneTxn, crashable: ['participant'], maxCrashes: 0, maxPowerLosses: 1, bugs: { prepareWithoutSync: true } },
  /** A replica cache that takes a loaded value over the one an apply gave it meanwhile: a precondition passes on an old version. */
  'stale-loads': { ...oneTxn, participants: 1, txns: twoTxnsOnOneKey, maxCrashes: 0, ...coldCache, bugs: { staleLoads: true } },
  /** The coordinator's commit decision written without fsync: only a power loss can show it. */
  'decision-without-fsync': { ...oneTxn, crashable: ['coordinator'], maxCrashes: 0, maxPowerLosses: 1, bugs: { decisionWithoutSync: true } },
}
