import { invariant } from '../protocol/invariant.ts'

/**
 * Ballot numbers of Paxos Commit. Ballot 0 of instance (transaction, i) is
 * participant i's own: it proposes its vote there without phase 1. Every
 * higher ballot belongs to one would-be recovery leader, so that two leaders
 * never use the same ballot: ballot = round × leaders + leader index (see
 * Leaders: the coordinators first, then the participants).
 */

/** How many acceptors make a quorum: a majority, so that any two quorums meet. With 2F+1 acceptors, F+1. */
export function quorumSize(acceptors: number): number {
  return Math.floor(acceptors / 2) + 1
}

/**
 * Who may lead ballots: every coordinator, then every participant, each in
 * configuration order. Every node is configured with the same two lists.
 */
export interface Leaders {
  coordinators: readonly string[]
  participants: readonly string[]
}

export function leaderCount(leaders: Leaders): number {
  return leaders.coordinators.length + leaders.participants.length
}

/** A leader's index: coordinators from 0, then participants. */
export function leaderIndex(leaders: Leaders, name: string): number {
  const c = leaders.coordinators.indexOf(name)
  if (c >= 0) return c
  const p = leaders.participants.indexOf(name)
  invariant(p >= 0, () => `${name} is neither a coordinator nor a participant`)
  return leaders.coordinators.length + p
}

/** The node that owns a ballot; undefined for ballot 0, whose 2b goes to the transaction's own coordinator. */
export function ballotOwner(leaders: Leaders, ballot: number): string | undefined {
  if (ballot === 0) return undefined
  const index = ballot % leaderCount(leaders)
  const c = leaders.coordinators.length
  return index < c ? leaders.coordinators[index] : leaders.participants[index - c]
}

/** Whether a leader is a coordinator (its messages travel on coordinator links). */
export function isCoordinator(leaders: Leaders, name: string): boolean {
  return leaders.coordinators.includes(name)
}

/**
 * The lowest ballot of this leader above `above`, in round `minRound` or
 * later. Rounds start at 1: ballot 0 is never a leader's.
 */
export function nextBallot(leaders: Leaders, index: number, above: number, minRound = 1): number {
  const k = leaderCount(leaders)
  // round × k > above already, whatever the index.
  const round = Math.max(minRound, Math.floor(above / k) + 1)
  return round * k + index
}

/**
 * The coordinator's rounds live in a range of their own per epoch: it does
 * not remember its ballots across a restart, and its new epoch (durable
 * before it starts) keeps it from reusing one.
 */
export const ROUNDS_PER_EPOCH = 2 ** 20

export function coordinatorMinRound(epoch: number): number {
  return epoch * ROUNDS_PER_EPOCH
}
