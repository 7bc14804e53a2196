import { invariant } from '../protocol/invariant.ts'
import type { ParticipantEffect, ParticipantOptions, ParticipantState } from './types.ts'

/**
 * What must hold after every step of a participant (TigerBeetle's
 * `defer self.invariants()`). A broken one is a bug in this machine and
 * stops it (InvariantViolation); bad input from peers never gets here, it is
 * refused before.
 */

/** Cheap, always on: each effect of this step is one the state allows. */
export function assertParticipantEffects(state: ParticipantState, effects: readonly ParticipantEffect[], options: ParticipantOptions): void {
  for (const effect of effects) {
    if (effect.type !== 'send') continue
    const { msg } = effect
    if (msg.type === 'vote' && msg.yes && options.unsafeBugs?.voteBeforeDurable !== true) {
      // A YES leaves only once the PREPARED record is durable: phase 'prepared' is set when its persist came back.
      const phase = state.prepared.get(msg.txId)?.phase
      invariant(phase === 'prepared', () => `YES vote sent for ${msg.txId} in phase ${phase ?? 'unknown'}: its PREPARED record is not durable`)
    } else if (msg.type === 'ack') {
      invariant(!state.prepared.has(msg.txId) && state.resolved.get(msg.txId)?.outcome !== 'aborted', () => `ACK sent for ${msg.txId}, which is not applied`)
    }
  }
}

/** The whole state, when options.checkInvariants is set (simulator, tests, CHECK_INVARIANTS=1): O(locks + transactions). */
export function assertParticipantState(state: ParticipantState): void {
  for (const [key, holder] of state.locks) {
    const txn = state.prepared.get(holder)
    invariant(txn !== undefined && (txn.writes.some((w) => w.key === key) || txn.floors?.has(key) === true), () => `key ${key} is locked by ${holder}, which is not a prepared transaction writing it or holding its floor`)
  }
  let waiting = 0
  for (const [key, queue] of state.reads) {
    invariant(state.locks.has(key), () => `reads wait on key ${key}, which is not locked`)
    waiting += queue.length
  }
  invariant(waiting === state.waitingReads, () => `waitingReads is ${state.waitingReads} but ${waiting} reads wait`)
  for (const txn of state.prepared.values()) {
    invariant(!state.resolved.has(txn.txId), () => `${txn.txId} is both prepared and resolved`)
    invariant(txn.writes.every((w) => (txn.versions.get(w.key) ?? 0) >= 1), () => `${txn.txId} has a write without a version`)
  }
  for (const txId of state.confirmations.keys()) invariant(state.resolved.has(txId), () => `confirmations of ${txId} are counted, but it has no resolved marker`)
  for (const [key, entry] of state.kv) invariant(Number.isSafeInteger(entry.version) && entry.version >= 1, () => `key ${key} holds version ${entry.version}`)
}
