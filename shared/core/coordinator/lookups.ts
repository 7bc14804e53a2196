import type { ParticipantTxnState } from '../protocol/messages.ts'
import type { CoordinatorEffect, CoordinatorState, LookupReplyBody, PendingLookup } from './types.ts'

/*
 * A status lookup of a transaction this coordinator does not own (another
 * coordinator's, perhaps one that died): every connected participant is asked
 * what it knows. One that holds the outcome settles it; otherwise the lookup
 * waits for them all, and says "in doubt" if one holds the transaction
 * prepared, "unknown" if none knows it.
 */

const lookupTimer = (reqId: number) => ({ kind: 'lookup', reqId }) as const

export function startLookup(state: CoordinatorState, reqId: number, txId: string, limits: { maxInFlight: number; timeoutMs: number }): CoordinatorEffect[] {
  if (state.connected.length === 0) return [reply(reqId, { ok: false, error: 'no_replica', message: 'no participant is connected to ask' })]
  if (state.lookups.size >= limits.maxInFlight) return [reply(reqId, { ok: false, error: 'overloaded', message: `${state.lookups.size} status lookups are waiting for answers; retry later` })]
  state.lookups.set(reqId, { txId, waiting: [...state.connected], prepared: [], lost: [] })
  return [
    ...state.connected.map((to): CoordinatorEffect => ({ type: 'send', to, msg: { type: 'statusQuery', reqId, txId } })),
    { type: 'setTimer', timer: lookupTimer(reqId), afterMs: limits.timeoutMs },
  ]
}

export function onStatusResult(state: CoordinatorState, from: string, reqId: number, txId: string, known: ParticipantTxnState): CoordinatorEffect[] {
  const lookup = state.lookups.get(reqId)
  if (lookup?.txId !== txId || !lookup.waiting.includes(from)) return [] // late, or not asked of it
  lookup.waiting = lookup.waiting.filter((p) => p !== from)
  if (known === 'committed' || known === 'aborted') return finish(state, reqId, { ok: true, txId, state: known, learnedFrom: from })
  if (known === 'prepared') lookup.prepared.push(from)
  return lookup.waiting.length === 0 ? finish(state, reqId, undecided(lookup)) : []
}

/** A participant asked went away: it will not answer. */
export function lookupsLost(state: CoordinatorState, participant: string): CoordinatorEffect[] {
  const effects: CoordinatorEffect[] = []
  for (const [reqId, lookup] of state.lookups) {
    if (!lookup.waiting.includes(participant)) continue
    lookup.waiting = lookup.waiting.filter((p) => p !== participant)
    lookup.lost.push(participant)
    if (lookup.waiting.length === 0) effects.push(...finish(state, reqId, undecided(lookup)))
  }
  return effects
}

export function lookupTimedOut(state: CoordinatorState, reqId: number): CoordinatorEffect[] {
  const lookup = state.lookups.get(reqId)
  if (!lookup) return []
  lookup.lost.push(...lookup.waiting)
  lookup.waiting = []
  return finish(state, reqId, undecided(lookup))
}

/** No participant that answered knows the outcome. */
function undecided(lookup: PendingLookup): LookupReplyBody {
  if (lookup.prepared.length > 0) {
    return { ok: false, error: 'txn_in_doubt', message: `${lookup.txId} is prepared at ${lookup.prepared.join(', ')}, its outcome not known yet; retry later` }
  }
  if (lookup.lost.length > 0) {
    return { ok: false, error: 'txn_in_doubt', message: `no participant that answered knows ${lookup.txId}, and ${lookup.lost.join(', ')} did not answer; retry later` }
  }
  return { ok: false, error: 'unknown_transaction', message: `no participant knows ${lookup.txId} (never prepared anywhere, or forgotten past retention)` }
}

function finish(state: CoordinatorState, reqId: number, body: LookupReplyBody): CoordinatorEffect[] {
  state.lookups.delete(reqId)
  return [{ type: 'cancelTimer', timer: lookupTimer(reqId) }, reply(reqId, body)]
}

function reply(reqId: number, body: LookupReplyBody): CoordinatorEffect {
  return { type: 'lookupReply', reqId, body }
}
