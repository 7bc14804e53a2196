import type { WebSocket } from 'ws'
import { encodeFrame } from '../../core/protocol/codec.ts'
import type { ToCoordinator, ToParticipant } from '../../core/protocol/messages.ts'
import { marks } from '../runtime/marks.ts'

/**
 * Coalesces messages to one peer: everything sent in the same turn of the
 * event loop leaves as one WebSocket frame (a JSON array), one socket write.
 * Flushed by setImmediate, i.e. right after the loop has handled the I/O it
 * polled: under load that is every HTTP request and frame that arrived
 * together (a microtask flush gave one write per request), and a lone
 * message waits only for the rest of its own turn, no timer.
 */
export class Outbox {
  private buffer: (ToParticipant | ToCoordinator)[] = []
  private scheduled = false
  framesSent = 0
  messagesSent = 0

  constructor(private readonly socket: () => WebSocket | undefined) {}

  push(message: ToParticipant | ToCoordinator): boolean {
    const ws = this.socket()
    if (!ws || ws.readyState !== ws.OPEN) return false
    this.buffer.push(message)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => { this.flush(); })
    }
    return true
  }

  /** Hands everything buffered to the socket now (failpoints use it to crash after a send). */
  flush(): void {
    this.scheduled = false
    const messages = this.buffer
    this.buffer = []
    const ws = this.socket()
    if (!ws || ws.readyState !== ws.OPEN || messages.length === 0) return
    marks.frame('send', messages)
    ws.send(encodeFrame(messages))
    this.framesSent++
    this.messagesSent += messages.length
  }
}
