/**
 * Where each record lives in a node's store: every key is built here, and
 * recovery sorts what it reads by these prefixes. Keys are never parsed back:
 * a record carries its own ids.
 */
export const recordPrefix = {
  /** Participant: a committed entry of the replica, by user key. */
  entry: 'kv/',
  /** Participant: a PREPARED record, durable before the YES vote leaves. */
  prepared: 'prep/',
  /** Participant: the marker of a resolved transaction (refuses a replayed PREPARE). */
  resolved: 'done/',
  /** Participant, Paxos Commit: its acceptor state for one transaction's instances. */
  acceptor: 'acc/',
  /** Coordinator: a transaction's decision record. */
  decision: 'tx/',
  /** Coordinator: one record per start, so that transaction ids never repeat. */
  epoch: 'epoch/',
  /**
   * Either node: what the service keeps about the node itself rather than about transactions (a participant's
   * replica identity, the replicas a coordinator admitted). The adapters own these; recovery passes them by.
   */
  meta: 'meta/',
} as const

export const entryKey = (key: string): string => `${recordPrefix.entry}${key}`
export const preparedKey = (txId: string): string => `${recordPrefix.prepared}${txId}`
export const resolvedKey = (txId: string): string => `${recordPrefix.resolved}${txId}`
export const acceptorKey = (txId: string): string => `${recordPrefix.acceptor}${txId}`
export const decisionKey = (txId: string): string => `${recordPrefix.decision}${txId}`
/** Participant: which replica this store is (replica-identity.ts). */
export const replicaIdentityKey = `${recordPrefix.meta}replica`
/** Coordinator: the replica it admitted last under a participant's name (replica-identity.ts). */
export const memberKey = (participant: string): string => `${recordPrefix.meta}member/${participant}`
/** Zero-padded, so that the log lists epochs in order. */
export const epochKey = (epoch: number): string => `${recordPrefix.epoch}${String(epoch).padStart(10, '0')}`
