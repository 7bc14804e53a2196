import type { WebSocket } from 'ws'
import type { ToCoordinator, ToParticipant } from '../../core/protocol/messages.ts'
import type { Logger } from '../runtime/logger.ts'
import { marks } from '../runtime/marks.ts'
import { splitFrames, type FrameLimits } from './frames.ts'
import { linkMeter } from './link-meter.ts'

/**
 * Coalesces messages to one peer: everything sent in the same turn of the
 * event loop leaves as one WebSocket frame (a JSON array), one socket write.
 * Flushed by setImmediate, i.e. right after the loop has handled the I/O it
 * polled: under load that is every HTTP request and frame that arrived
 * together (a microtask flush gave one write per request), and a lone
 * message waits only for the rest of its own turn, no timer.
 *
 * Limits on the sender too: what one turn produced leaves in as many frames
 * as the frame limits need (splitFrames), and a peer that does not read is
 * cut off once `maxBufferedBytes` wait in the socket's send buffer, rather
 * than letting that buffer grow without bound (the protocol takes a lost
 * connection in its stride: what was in flight is re-sent or re-asked).
 */
export class Outbox {
  private buffer: (ToParticipant | ToCoordinator)[] = []
  private scheduled = false
  framesSent = 0
  messagesSent = 0

  constructor(
    private readonly socket: () => WebSocket | undefined,
    private readonly logger?: Logger,
    private readonly options: { frameLimits?: FrameLimits; maxBufferedBytes?: number; peer?: string } = {},
  ) {}

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
    const frames = splitFrames(messages, this.options.frameLimits)
    for (const frame of frames) ws.send(frame)
    if (this.options.peer !== undefined) linkMeter.sent(this.options.peer, frames, messages.length)
    this.framesSent += frames.length
    this.messagesSent += messages.length
    const maxBufferedBytes = this.options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES
    if (ws.bufferedAmount > maxBufferedBytes) {
      this.logger?.warn({ bufferedBytes: ws.bufferedAmount, maxBufferedBytes }, 'the peer does not read what is sent; dropping its connection')
      ws.terminate()
    }
  }
}

/** Eight full frames waiting: a peer that far behind is not keeping up. */
const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024
