import { beginBallot, onAccepted, onPromise, type LeaderBugs } from '../paxos/leader.ts'
import type { ParticipantTxnState, Phase1bMsg, Phase2bMsg } from '../protocol/messages.ts'
import type { Outcome } from '../protocol/types.ts'
import type { CoordinatorEffect, CoordinatorState, LookupReplyBody, PendingLookup } from './types.ts'

/*
 * A status lookup of a transaction this coordinator does not own (another
 * coordinator's, perhaps one that died): every connected participant is asked
 * what it knows. One that holds the outcome settles it; otherwise the lookup
 * waits for them all, and says "unknown" if none knows it. If one holds it
 * prepared, nobody here knows the outcome yet: under Paxos Commit this
 * coordinator then finishes it as a recovery leader (one ballot: phase 1 on
 * every instance, then phase 2 with what the quorum reported, else aborted),
 * tells the participants, and answers with what was chosen. Under 2PC, or
 * when it cannot lead (too few participants connected, a higher ballot
 * already under way, the lookup's time up), the answer is "in doubt".
 */

/** What a lookup needs to lead a recovery ballot: given under Paxos Commit only. */
export interface LookupLeading {
  /** This coordinator's name: it tells the participants the outcome as the ballot's leader. */
  name: string
  /** A ballot of this coordinator's that no ballot of its own has used for any transaction; undefined when it has none left. */
  nextBallot: () => number | undefined
  participants: readonly string[]
  quorum: number
  bugs: LeaderBugs | undefined
}

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

export function onStatusResult(state: CoordinatorState, from: string, reqId: number, txId: string, known: ParticipantTxnState, leading?: LookupLeading): CoordinatorEffect[] {
  const lookup = state.lookups.get(reqId)
  if (lookup?.txId !== txId || !lookup.waiting.includes(from)) return [] // late, or not asked of it
  lookup.waiting = lookup.waiting.filter((p) => p !== from)
  if (known === 'committed' || known === 'aborted') return finish(state, reqId, { ok: true, txId, state: known, learnedFrom: from })
  if (known === 'prepared') lookup.prepared.push(from)
  return lookup.waiting.length === 0 ? leadOrAnswer(state, reqId, lookup, leading) : []
}

/** Every participant asked has answered or gone, and none knows the outcome. */
function leadOrAnswer(state: CoordinatorState, reqId: number, lookup: PendingLookup, leading: LookupLeading | undefined): CoordinatorEffect[] {
  // Nobody holds it prepared: nothing can have been chosen but aborts, and a ballot would only leave records behind.
  if (leading === undefined || lookup.prepared.length === 0 || state.connected.length < leading.quorum) return finish(state, reqId, undecided(lookup))
  const ballot = leading.nextBallot()
  if (ballot === undefined) return finish(state, reqId, undecided(lookup))
  lookup.leader = beginBallot(lookup.txId, ballot, 1, 0)
  // Bounded by the lookup's own timer, still armed: a ballot that does not finish in time answers "in doubt".
  return state.connected.map((to): CoordinatorEffect => ({ type: 'send', to, msg: { type: 'phase1a', txId: lookup.txId, ballot } }))
}

/** The lookups leading this ballot of this transaction (a participant's 1b or 2b names both). */
function leadingLookups(state: CoordinatorState, txId: string, ballot?: number): [number, PendingLookup & { leader: NonNullable<PendingLookup['leader']> }][] {
  return [...state.lookups].filter((entry): entry is [number, PendingLookup & { leader: NonNullable<PendingLookup['leader']> }] => {
    const leader = entry[1].leader
    return entry[1].txId === txId && leader !== undefined && (ballot === undefined || leader.ballot === ballot)
  })
}

/** A promise (or a refusal: a higher ballot is under way) for a lookup's ballot. */
export function onLookupPhase1b(state: CoordinatorState, msg: Phase1bMsg, leading: LookupLeading): CoordinatorEffect[] {
  const effects: CoordinatorEffect[] = []
  for (const [reqId, lookup] of leadingLookups(state, msg.txId, msg.ballot)) {
    if (msg.promised !== undefined) {
      // Someone else leads a higher ballot (a participant's recovery, most likely): it will finish it.
      effects.push(...finish(state, reqId, { ok: false, error: 'txn_in_doubt', message: `${msg.txId} is in doubt, and a recovery ballot (${msg.promised}) is under way elsewhere; retry later` }))
      continue
    }
    const values = onPromise(lookup.leader, msg.from, msg.accepted, leading.participants, leading.quorum, leading.bugs)
    if (values !== undefined) effects.push(...state.connected.map((to): CoordinatorEffect => ({ type: 'send', to, msg: { type: 'phase2a', txId: msg.txId, ballot: msg.ballot, values } })))
  }
  return effects
}

/** An acceptance of a lookup's ballot: once a quorum accepted, the outcome is chosen. */
export function onLookupPhase2b(state: CoordinatorState, msg: Phase2bMsg, leading: LookupLeading): CoordinatorEffect[] {
  for (const [, lookup] of leadingLookups(state, msg.txId, msg.ballot)) {
    const outcome = onAccepted(lookup.leader, msg.from, leading.quorum, leading.bugs)
    if (outcome !== undefined) return lookupLearned(state, leading.name, msg.txId, outcome, `recovery ballot ${msg.ballot} of this coordinator`)
  }
  return []
}

/**
 * The outcome of a transaction a lookup leads is known (its ballot chose it,
 * or an acceptor that already knew it said so): every lookup leading it is
 * answered, and the connected participants are told, so that those still
 * holding it prepared let go of its locks.
 */
export function lookupLearned(state: CoordinatorState, me: string, txId: string, outcome: Outcome, learnedFrom: string): CoordinatorEffect[] {
  const leading = leadingLookups(state, txId)
  if (leading.length === 0) return []
  const effects = leading.flatMap(([reqId]) => finish(state, reqId, { ok: true, txId, state: outcome, learnedFrom }))
  // Paxos's "outcome", as a recovery leader tells it (a COMMIT is for a transaction's own coordinator, after its decision record).
  return [...effects, ...state.connected.map((to): CoordinatorEffect => ({ type: 'send', to, msg: { type: 'outcome', txId, from: me, outcome } }))]
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
  if (lookup.leader !== undefined) {
    return { ok: false, error: 'txn_in_doubt', message: `${lookup.txId} is prepared at ${lookup.prepared.join(', ')}, and this coordinator's recovery ballot ${lookup.leader.ballot} did not finish in time; retry later` }
  }
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
