import { invariant } from '../protocol/invariant.ts'
import type { CoordinatorEffect, CoordinatorOptions, CoordinatorState } from './types.ts'

/**
 * What must hold after every step of the coordinator (TigerBeetle's
 * `defer self.invariants()`). A broken one is a bug in this machine and
 * stops it (InvariantViolation); bad input from peers never gets here, it is
 * refused before.
 */

/** Cheap, always on: each effect of this step is one the state allows. */
export function assertCoordinatorEffects(state: CoordinatorState, effects: readonly CoordinatorEffect[]): void {
  for (const effect of effects) {
    const msg = effect.type === 'send' ? effect.msg : undefined
    if (msg?.type === 'commit') {
      // COMMIT only after the decision is durable: phase 'committed' is set when its persist came back.
      const txn = state.txns.get(msg.txId)
      invariant(txn?.phase === 'committed', () => `COMMIT sent for ${msg.txId} in phase ${txn?.phase ?? 'unknown'}: the decision is not durable`)
    } else if (msg?.type === 'prepare') {
      const txn = state.txns.get(msg.txId)
      invariant(txn?.phase === 'preparing', () => `PREPARE sent for ${msg.txId} in phase ${txn?.phase ?? 'unknown'}`)
    } else if (effect.type === 'reply' && effect.body.ok && effect.body.result.outcome === 'committed') {
      const { txId } = effect.body.result
      // A transaction it holds no record of was named by a client id's claim, which the replicas hold only once it committed.
      const txn = state.txns.get(txId)
      invariant(txn === undefined || txn.phase === 'committed', () => `client told ${txId} committed before its decision was durable`)
    }
  }
}

/** The whole state, when options.checkInvariants is set (simulator, tests, CHECK_INVARIANTS=1): O(transactions). */
export function assertCoordinatorState(state: CoordinatorState, options: CoordinatorOptions): void {
  let undecided = 0
  for (const txn of state.txns.values()) {
    if (txn.phase === 'preparing' || txn.phase === 'committing') undecided++
    // Under Paxos Commit a recovery ballot may learn a commit whose votes this coordinator never saw.
    if ((txn.phase === 'committing' || txn.phase === 'committed') && !txn.recovered && options.protocol !== 'paxos-commit') {
      const missing = options.participants.filter((p) => txn.votes.get(p) !== 'yes')
      invariant(missing.length === 0, () => `${txn.txId} is ${txn.phase} without a YES from ${missing.join(',')}`)
    }
    invariant(txn.phase !== 'aborted' || txn.ended, () => `${txn.txId} is aborted but not ended`)
    // An attempt whose client id was claimed already keeps its waiters until its abort is durable (onClaimTaken).
    invariant(txn.waiters.length === 0 || txn.phase === 'preparing' || txn.phase === 'committing' || txn.claimTaken !== undefined, () => `${txn.txId} is ${txn.phase} with clients still waiting`)
  }
  invariant(state.inFlight === undecided, () => `inFlight is ${state.inFlight} but ${undecided} transactions are undecided`)
  for (const [clientId, txId] of state.byClientId) {
    invariant(state.txns.get(txId)?.clientId === clientId, () => `client id ${clientId} points at ${txId}, which does not carry it`)
  }
  for (const [reqId, read] of state.reads) invariant(state.connected.includes(read.participant), () => `read ${reqId} waits on ${read.participant}, which is not connected`)
  invariant(new Set(state.connected).size === state.connected.length && state.connected.every((p) => options.participants.includes(p)), () => `connected participants ${state.connected.join(',')} are not a set of known ones`)
}
