/**
 * The machines' timers, as typed values (etcd raft's local messages, not
 * strings to parse back). A timer's key names it for the adapters, which
 * replace and cancel timers by it; nothing ever reads an id back out of a key.
 */
export type CoordinatorTimer =
  /** A transaction's votes are due. */
  | { kind: 'vote'; txId: string }
  /** Compact the decision log. */
  | { kind: 'gc' }
  /** Re-send the next batch of unacknowledged COMMITs to a participant that reconnected, after `after`. */
  | { kind: 'resend'; participant: string; after: string }
  /** A client's read is due an answer from the participant it was sent to. */
  | { kind: 'read'; reqId: number }
  /** A status lookup of another coordinator's transaction is due its answers. */
  | { kind: 'lookup'; reqId: number }

export type ParticipantTimer =
  /** Ask about in-doubt transactions, forget old resolved ids. */
  | { kind: 'sweep' }
  /** A read waiting on a held key is due an answer; each coordinator numbers its reads, so its name goes with the id. */
  | { kind: 'read'; reqId: number; from: string }
  /** Paxos Commit: a prepared transaction has waited long enough for its outcome; lead its recovery. */
  | { kind: 'recover'; txId: string }

export type Timer = CoordinatorTimer | ParticipantTimer

export function timerKey(timer: Timer): string {
  switch (timer.kind) {
    case 'vote':
      return `vote:${timer.txId}`
    case 'recover':
      return `recover:${timer.txId}`
    case 'read':
      return 'from' in timer ? `read:${timer.from}:${timer.reqId}` : `read:${timer.reqId}`
    case 'lookup':
      return `lookup:${timer.reqId}`
    case 'resend':
      return `resend:${timer.participant}`
    case 'gc':
    case 'sweep':
      return timer.kind
  }
}
