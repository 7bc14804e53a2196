import { invariant } from '../protocol/invariant.ts'

/**
 * Ballot numbers of Paxos Commit. Ballot 0 of instance (transaction, i) is
 * participant i's own: it proposes its vote there without phase 1. Every
 * higher ballot belongs to one would-be recovery leader, so that two leaders
 * never use the same ballot: ballot = round × leaders + leader index, where
 * index 0 is the coordinator and index i is participant i (1-based).
 */

/** How many acceptors make a quorum: a majority, so that any two quorums meet. With 2F+1 acceptors, F+1. */
export function quorumSize(acceptors: number): number {
  return Math.floor(acceptors / 2) + 1
}

/** Who may lead ballots: the coordinator, then the participants in configuration order. */
export function leaderCount(participants: readonly string[]): number {
  return participants.length + 1
}

/** The leader index of a participant (1-based), or 0 for the coordinator. */
export function leaderIndex(participants: readonly string[], name: string | undefined): number {
  if (name === undefined) return 0
  const i = participants.indexOf(name)
  invariant(i >= 0, () => `${name} is not a participant`)
  return i + 1
}

/** The node that owns a ballot: undefined for the coordinator (which also learns ballot 0), else a participant's name. */
export function ballotOwner(participants: readonly string[], ballot: number): string | undefined {
  if (ballot === 0) return undefined
  const index = ballot % leaderCount(participants)
  return index === 0 ? undefined : participants[index - 1]
}

/**
 * The lowest ballot of this leader above `above`, in round `minRound` or
 * later. Rounds start at 1: ballot 0 is never a leader's.
 */
export function nextBallot(participants: readonly string[], index: number, above: number, minRound = 1): number {
  const k = leaderCount(participants)
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
