import type { StoreOp } from '../store.ts'
import type { LogEffect, PersistEffect } from './effects.ts'

/** What a machine remembers of a write in flight, by its token, until `persisted` comes back. */
export interface PendingWrites<K extends PersistEffect['kind']> {
  nextToken: number
  pending: Map<number, { kind: K; txId?: string }>
}

/**
 * A persist effect with a fresh token, remembered as pending: both machines
 * write this way, and learn the write is durable when the token comes back.
 */
export function persistEffect<K extends PersistEffect['kind']>(state: PendingWrites<K>, kind: K, sync: boolean, ops: StoreOp[], txId?: string): PersistEffect {
  const token = state.nextToken++
  if (txId === undefined) {
    state.pending.set(token, { kind })
    return { type: 'persist', token, ops, sync, kind }
  }
  state.pending.set(token, { kind, txId })
  return { type: 'persist', token, ops, sync, kind, txId }
}

export function logEffect(level: LogEffect['level'], msg: string, fields: Record<string, unknown>): LogEffect {
  return { type: 'log', level, msg, ...fields }
}
