import { keyedObject, objectFromMap } from '../protocol/keyed-object.ts'
import type { VersionsObject } from '../protocol/types.ts'
import { coordinatorOf, epochOf } from '../protocol/tx-id.ts'
import type { CoordinatorState, Txn } from './types.ts'

/** What `GET /v1/transactions/:txId` shows. */
export interface TxnDescription {
  txId: string
  id?: string
  state: 'preparing' | 'committed' | 'aborted'
  /** true when the coordinator has no record and answers by the presumed-abort rule. */
  presumed?: boolean
  keys?: string[]
  votes?: Record<string, 'yes' | 'no' | 'pending'>
  acks?: Record<string, boolean>
  ended?: boolean
  reasons?: Txn['reasons']
  versions?: VersionsObject
  createdAt?: string
  decidedAt?: string
  endedAt?: string
}

/**
 * Pure read of the coordinator state. A txId of an earlier coordinator epoch
 * with no record was never decided (presumed abort) — provided the epoch is
 * younger than the retention, so no decided record of it can have been
 * collected yet. Otherwise the answer is "unknown".
 */
export function describeTxn(
  state: CoordinatorState,
  participants: readonly string[],
  txId: string,
  now: number,
  retentionMs: number,
  name: string,
): TxnDescription | undefined {
  const txn = state.txns.get(txId)
  if (txn) return describe(txn, participants)
  // Presumed abort covers this coordinator's own transactions only.
  const epoch = coordinatorOf(txId) === name ? epochOf(txId) : undefined
  if (epoch === undefined || epoch >= state.epoch) return undefined
  const record = state.epochs.find((e) => e.epoch === epoch)
  if (!record || record.startedAt < now - retentionMs) return undefined
  return { txId, state: 'aborted', presumed: true, reasons: [] }
}

export function describeByClientId(state: CoordinatorState, participants: readonly string[], clientId: string): TxnDescription | undefined {
  const txn = state.txns.get(state.byClientId.get(clientId) ?? '')
  return txn ? describe(txn, participants) : undefined
}

function describe(txn: Txn, participants: readonly string[]): TxnDescription {
  const d: TxnDescription = {
    txId: txn.txId,
    state: txn.phase === 'committing' ? 'preparing' : txn.phase,
    keys: txn.keys,
    ended: txn.ended,
    createdAt: new Date(txn.createdAt).toISOString(),
  }
  if (txn.clientId !== undefined) d.id = txn.clientId
  if (!txn.recovered) {
    const votes = (d.votes = keyedObject())
    for (const p of participants) votes[p] = txn.votes.get(p) ?? 'pending'
  }
  if (txn.phase === 'committed') {
    const acks = (d.acks = keyedObject())
    for (const p of participants) acks[p] = txn.ended || txn.acks.includes(p)
    d.versions = objectFromMap(txn.versions)
  }
  if (txn.phase === 'aborted') d.reasons = txn.reasons
  if (txn.decidedAt !== undefined && txn.phase !== 'preparing' && txn.phase !== 'committing') d.decidedAt = new Date(txn.decidedAt).toISOString()
  if (txn.endedAt !== undefined) d.endedAt = new Date(txn.endedAt).toISOString()
  return d
}
