import type { ToCoordinator, ToParticipant } from '../../core/protocol/messages.ts'

/**
 * A protocol message as a trace names it: the same label at the sender and at
 * the receiver, so that the gatherer can pair a send with its receive. It
 * says what tells two messages of one transaction apart (a ballot, whose
 * instances, yes or no), and nothing bulky (no writes, no values).
 * Messages of no transaction (hello, reads, listings) are not traced: undefined.
 */
export function messageLabel(msg: ToParticipant | ToCoordinator): { txId: string; label: string; from?: string } | undefined {
  switch (msg.type) {
    case 'hello':
    case 'admission':
    case 'read':
    case 'readResult':
    case 'list':
    case 'listResult':
      return undefined
    case 'vote':
      return { txId: msg.txId, label: msg.yes ? 'vote yes' : `vote no${msg.reason ? ` (${msg.reason.code})` : ''}` }
    case 'phase1a':
      return { txId: msg.txId, label: `1a b${msg.ballot}` }
    case 'phase1b':
      return { txId: msg.txId, label: `1b b${msg.ballot}${msg.promised === undefined ? '' : ` refused (b${msg.promised})`}`, from: msg.from }
    case 'phase2a':
      return { txId: msg.txId, label: `2a b${msg.ballot} ${instances(msg.values)}` }
    case 'phase2b':
      return { txId: msg.txId, label: `2b b${msg.ballot} ${instances(msg.values)}`, from: msg.from }
    case 'outcome':
      return { txId: msg.txId, label: `outcome ${msg.outcome}`, from: msg.from }
    case 'resolved':
      return { txId: msg.txId, label: msg.ask ? 'resolved?' : 'resolved', from: msg.from }
    case 'statusResult':
      return { txId: msg.txId, label: `status ${msg.state}` }
    default:
      return { txId: msg.txId, label: msg.type }
  }
}

/** `p1=prepared`, or `p1,p2,p3=prepared,aborted,…` for a leader's proposal. */
function instances(values: Record<string, string>): string {
  const names = Object.keys(values).sort()
  return `${names.join(',')}=${names.map((n) => values[n]).join(',')}`
}
