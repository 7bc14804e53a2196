import type { WebSocket } from 'ws'
import { encodeFrame } from '../protocol/codec.ts'
import type { ToCoordinator, ToParticipant } from '../protocol/messages.ts'

/**
 * Coalesces messages to one peer: everything sent in the same tick leaves as
 * one WebSocket frame (a JSON array). Flushed in a microtask, so a lone
 * message waits for nothing.
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
      queueMicrotask(() => { this.flush(); })
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
    ws.send(encodeFrame(messages))
    this.framesSent++
    this.messagesSent += messages.length
  }
}
