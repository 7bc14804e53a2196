import { keyedObject, ownValue } from '../protocol/keyed-object.ts'
import type { AcceptedValues, InstanceValues, PaxosValue } from './values.ts'

/**
 * A recovery leader's ballot for one transaction (Paxos Commit's phase 1 and
 * 2, all instances at once). Pure bookkeeping: the machines send the messages.
 */
export interface LeaderBallot {
  txId: string
  ballot: number
  /** How many ballots this leader has started for the transaction. */
  rounds: number
  phase: 'promising' | 'accepting'
  /** Acceptor → what it reported accepted, from the 1b of this ballot. */
  promises: Record<string, AcceptedValues>
  /** Acceptors whose 2b of this ballot came back. */
  accepts: string[]
  /** What phase 2a proposes, once phase 1 has a quorum. */
  values?: InstanceValues
  /** The highest ballot an acceptor said it promised instead: the next ballot goes above it. */
  highestSeen: number
}

/** Test-only flawed variants of the leader, each of which the model checker must catch. */
export interface LeaderBugs {
  /** Proposes `prepared` for an instance with no accepted value, instead of `aborted`. */
  leaderProposesPrepared?: boolean
  /** Chooses with one acceptance fewer than a quorum. */
  smallQuorum?: boolean
}

export function beginBallot(txId: string, ballot: number, rounds: number, highestSeen: number): LeaderBallot {
  return { txId, ballot, rounds, phase: 'promising', promises: keyedObject(), accepts: [], highestSeen }
}

/** The acceptances a leader or learner waits for (a bug may take one fewer). */
export function neededAcceptances(quorum: number, bugs: LeaderBugs | undefined): number {
  return bugs?.smallQuorum === true ? quorum - 1 : quorum
}

/** A 1b of this ballot: the values to propose once `quorum` acceptors have promised, else undefined. */
export function onPromise(leader: LeaderBallot, from: string, accepted: AcceptedValues, instances: readonly string[], quorum: number, bugs?: LeaderBugs): InstanceValues | undefined {
  if (leader.phase !== 'promising' || Object.hasOwn(leader.promises, from)) return undefined
  leader.promises[from] = accepted
  if (Object.keys(leader.promises).length < neededAcceptances(quorum, bugs)) return undefined
  leader.phase = 'accepting'
  leader.values = proposal(Object.values(leader.promises), instances, bugs)
  return leader.values
}

/**
 * Paxos's rule, per instance: the value accepted at the highest ballot among
 * the promises, or else `aborted`. Never `prepared` on a participant's behalf:
 * only its own ballot-0 vote can put `prepared` into an instance.
 */
export function proposal(promises: readonly AcceptedValues[], instances: readonly string[], bugs?: LeaderBugs): InstanceValues {
  const values = keyedObject<PaxosValue>()
  for (const instance of instances) {
    let best: { ballot: number; value: PaxosValue } | undefined
    for (const p of promises) {
      const a = ownValue(p, instance)
      if (a !== undefined && (best === undefined || a.ballot > best.ballot)) best = a
    }
    values[instance] = best?.value ?? (bugs?.leaderProposesPrepared === true ? 'prepared' : 'aborted')
  }
  return values
}

/** A 2b of this ballot: the outcome once `quorum` acceptors accepted the proposal, else undefined. */
export function onAccepted(leader: LeaderBallot, from: string, quorum: number, bugs?: LeaderBugs): 'committed' | 'aborted' | undefined {
  if (leader.phase !== 'accepting' || leader.accepts.includes(from)) return undefined
  leader.accepts.push(from)
  if (leader.accepts.length < neededAcceptances(quorum, bugs)) return undefined
  return outcomeOf(leader.values!)
}

/** The transaction commits only if every instance chose `prepared`. */
export function outcomeOf(values: InstanceValues): 'committed' | 'aborted' {
  return Object.values(values).every((v) => v === 'prepared') ? 'committed' : 'aborted'
}
