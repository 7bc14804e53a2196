/** What Paxos Commit decides per instance: the participant's vote, or its abort. */
export type PaxosValue = 'prepared' | 'aborted'

/** A value an acceptor accepted, with the ballot it came in. */
export interface AcceptedValue {
  ballot: number
  value: PaxosValue
}

/** Instance (a participant's name) → value: what a phase 2a proposes and a 2b reports. */
export type InstanceValues = Record<string, PaxosValue>

/** Instance → what this acceptor accepted last: what a phase 1b reports. */
export type AcceptedValues = Record<string, AcceptedValue>
