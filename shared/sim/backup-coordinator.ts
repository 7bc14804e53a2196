import type { ParticipantState } from '../core/participant/types.ts'

/**
 * Murat's backup transaction manager (the TLA+ 2PC study), kept as a
 * known-broken variant for the checker to catch: when the coordinator is
 * down it looks at the participants it can reach and decides with the naive
 * canCommit rule — commit iff every participant is prepared or committed,
 * abort otherwise, counting an unreachable participant as "not prepared".
 * Two deciders that see different states at different times break
 * atomicity; the way out is a consensus group (Paxos Commit), not this.
 */
export function backupDecision(txId: string, views: { participant: string; state: ParticipantState | undefined }[]): 'commit' | 'abort' {
  const canCommit = views.every((v) => v.state !== undefined && (isPrepared(v.state, txId) || v.state.resolved.get(txId)?.outcome === 'committed'))
  return canCommit ? 'commit' : 'abort'
}

/** Prepared as the TLA+ model means it: the PREPARED record is durable and the YES vote cast. */
export function isPrepared(state: ParticipantState, txId: string): boolean {
  const txn = state.prepared.get(txId)
  return txn?.phase === 'prepared'
}
