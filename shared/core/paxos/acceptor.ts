import { keyedObject, ownValue } from '../protocol/keyed-object.ts'
import type { AcceptedValues, InstanceValues } from './values.ts'

/**
 * An acceptor's state for one transaction, over all its instances (one per
 * participant): the highest ballot it promised, and per instance the value it
 * accepted last. One promise covers every instance of the transaction, since
 * a recovery leader runs them all with one ballot; ballot 0 is per instance
 * (each participant proposes only its own). Durable (`acc/<txId>`, synced)
 * before any 1b or 2b that reports it leaves.
 */
export interface AcceptorRecord {
  txId: string
  promised: number
  accepted: AcceptedValues
}

export function newAcceptorRecord(txId: string): AcceptorRecord {
  return { txId, promised: 0, accepted: keyedObject() }
}

/** Phase 1a: 'promised' (write, then answer), 'stale' (a lower ballot: refuse), or 'repeat' (this ballot again). */
export function promise(record: AcceptorRecord, ballot: number): 'promised' | 'stale' | 'repeat' {
  if (ballot < record.promised) return 'stale'
  if (ballot === record.promised) return 'repeat'
  record.promised = ballot
  return 'promised'
}

/** Phase 2a: accepts `values` at `ballot` unless a higher ballot was promised. Only known instances count. */
export function accept(record: AcceptorRecord, ballot: number, values: InstanceValues, instances: readonly string[]): boolean {
  if (ballot < record.promised) return false
  record.promised = ballot
  for (const instance of instances) {
    const value = ownValue(values, instance)
    if (value !== undefined) record.accepted[instance] = { ballot, value }
  }
  return true
}

/** A copy for a message or a write: later changes to the record must not reach them. */
export function copyAccepted(accepted: AcceptedValues): AcceptedValues {
  const copy = keyedObject<AcceptedValues[string]>()
  for (const [instance, a] of Object.entries(accepted)) copy[instance] = { ballot: a.ballot, value: a.value }
  return copy
}

export function copyRecord(record: AcceptorRecord): AcceptorRecord {
  return { txId: record.txId, promised: record.promised, accepted: copyAccepted(record.accepted) }
}
