import type { TraceEvent } from './trace-ring.ts'

/** One node's trace as gathered, with how its clock was lined up with the gatherer's. */
export interface NodeTrace {
  node: string
  role: 'coordinator' | 'participant'
  /** Its clock minus the gatherer's, in microseconds (0: the same clock). */
  offsetUs: number
  /** Half the round trip of the fetch that measured the offset (0 for the gatherer itself). */
  uncertaintyUs: number
  alignment: 'self' | 'shared-clock' | 'estimated'
  events: TraceEvent[]
  /** Set when the node could not be asked: its lifeline is drawn empty. */
  error?: string
}

export interface FlowMessage {
  label: string
  from: string
  to: string
  /** Microseconds since the flow's origin; null: not seen (the other end's trace lacks it, or it was lost). */
  sentUs: number | null
  receivedUs: number | null
  /** Not sent at all: its link was down (never received, and never paired with a receive). */
  dropped?: boolean
}

export interface FlowWrite {
  node: string
  kind: string
  sync: boolean
  startUs: number
  /** null: not durable (yet, or the node died first). */
  doneUs: number | null
}

export interface FlowMark {
  node: string
  kind: 'timer' | 'request' | 'answer'
  label: string
  atUs: number
}

/** A transaction's space-time diagram as data: lifelines, arrows, synced writes and marks. */
export interface Flow {
  txId: string
  nodes: Omit<NodeTrace, 'events'>[]
  messages: FlowMessage[]
  writes: FlowWrite[]
  marks: FlowMark[]
  /** Time of the earliest event on the gatherer's clock (monotonic µs); every other time is relative to it. */
  originUs: number
  spanUs: number
}

/**
 * Lines up the nodes' traces on the gatherer's clock and pairs each send
 * with its receive: the k-th send from A to B of a label with the k-th
 * receive at B of it (connections deliver in order). A receive whose sender
 * is not named (a participant's 1a or 2a) takes the earliest unpaired send
 * to it of that label. What stays unpaired is drawn half: a message lost, or
 * one whose other end is not in the traces.
 */
export function buildFlow(txId: string, traces: NodeTrace[]): Flow {
  const onClock = traces.flatMap((t) => t.events.map((e) => ({ node: t.node, e: { ...e, atUs: e.atUs - t.offsetUs } })))
  onClock.sort((a, b) => a.e.atUs - b.e.atUs)
  const originUs = onClock[0]?.e.atUs ?? 0
  const rel = (atUs: number): number => atUs - originUs

  const sends: (FlowMessage & { paired: boolean })[] = []
  const receives: { node: string; label: string; peer: string | undefined; atUs: number }[] = []
  const writes: FlowWrite[] = []
  const open = new Map<string, FlowWrite>()
  const marks: FlowMark[] = []
  const dropped: FlowMessage[] = []
  for (const { node, e } of onClock) {
    switch (e.kind) {
      case 'send':
        sends.push({ label: e.msg, from: node, to: e.peer ?? '?', sentUs: rel(e.atUs), receivedUs: null, paired: false })
        break
      case 'drop':
        dropped.push({ label: e.msg, from: node, to: e.peer ?? '?', sentUs: rel(e.atUs), receivedUs: null, dropped: true })
        break
      case 'recv':
        receives.push({ node, label: e.msg, peer: e.peer, atUs: rel(e.atUs) })
        break
      case 'write': {
        const write = { node, kind: e.msg, sync: e.sync === true, startUs: rel(e.atUs), doneUs: null }
        writes.push(write)
        open.set(`${node}#${e.token}`, write)
        break
      }
      case 'durable': {
        const write = open.get(`${node}#${e.token}`)
        if (write) write.doneUs = rel(e.atUs)
        open.delete(`${node}#${e.token}`)
        break
      }
      default:
        marks.push({ node, kind: e.kind, label: e.msg, atUs: rel(e.atUs) })
    }
  }

  const messages: FlowMessage[] = []
  for (const r of receives) {
    const send = sends.find((s) => !s.paired && s.to === r.node && s.label === r.label && (r.peer === undefined || s.from === r.peer))
    if (send) {
      send.paired = true
      send.receivedUs = r.atUs
    } else {
      messages.push({ label: r.label, from: r.peer ?? '?', to: r.node, sentUs: null, receivedUs: r.atUs })
    }
  }
  for (const { paired: _, ...m } of sends) messages.push(m)
  messages.push(...dropped)
  messages.sort((a, b) => (a.sentUs ?? a.receivedUs!) - (b.sentUs ?? b.receivedUs!))

  const last = onClock.at(-1)?.e.atUs ?? originUs
  return { txId, nodes: traces.map(({ events: _, ...n }) => n), messages, writes, marks, originUs, spanUs: last - originUs }
}
