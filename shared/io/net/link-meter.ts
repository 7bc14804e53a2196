import type { RawData } from 'ws'

/** What went over this node's links with one peer, since the process started. */
export interface PeerTraffic {
  /** Protocol messages sent: an outbox coalesces those of one event-loop turn into a frame. */
  messagesSent: number
  framesSent: number
  bytesSent: number
  framesReceived: number
  bytesReceived: number
  /** Times a link to this peer came up again after it had been up (a new connection of the same peer). */
  reconnects: number
}

/**
 * Traffic per peer on every WebSocket link of this process, counted where
 * frames are sent and received, and read by /metrics on a scrape. The peer
 * is a configured node name (the label set stays bounded: no address, no
 * id a stranger chooses), or `ACCEPTOR_INBOUND` for frames arriving on a
 * participant's acceptor endpoint, whose connections do not name their peer.
 * One per process: every node is its own process.
 */
export class LinkMeter {
  private readonly peers = new Map<string, PeerTraffic>()

  sent(peer: string, frames: readonly string[], messages: number): void {
    const t = this.of(peer)
    t.messagesSent += messages
    t.framesSent += frames.length
    for (const frame of frames) t.bytesSent += Buffer.byteLength(frame)
  }

  received(peer: string, data: RawData): void {
    const t = this.of(peer)
    t.framesReceived++
    t.bytesReceived += rawDataBytes(data)
  }

  reconnected(peer: string): void {
    this.of(peer).reconnects++
  }

  /** Every peer seen so far, in the order first seen. */
  snapshot(): [string, PeerTraffic][] {
    return [...this.peers].map(([peer, t]) => [peer, { ...t }])
  }

  private of(peer: string): PeerTraffic {
    let t = this.peers.get(peer)
    if (t === undefined) {
      t = { messagesSent: 0, framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, reconnects: 0 }
      this.peers.set(peer, t)
    }
    return t
  }
}

/** The peer label of frames that arrive on a participant's acceptor endpoint (Paxos Commit). */
export const ACCEPTOR_INBOUND = 'acceptor-inbound'

function rawDataBytes(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data.byteLength
}

export const linkMeter = new LinkMeter()
