import { invariant } from '../../core/protocol/invariant.ts'
import { limits } from '../../core/protocol/messages.ts'

export interface FrameLimits {
  maxMessagesPerFrame: number
  /** In bytes of UTF-8, as the receiver's `maxPayload` counts them. */
  maxFrameBytes: number
}

/**
 * The sender's side of the frame limits: messages become as few frames as
 * fit, each a JSON array of at most `maxMessagesPerFrame` messages and
 * `maxFrameBytes` bytes, in order. The receiver refuses anything larger, so
 * the sender never makes it. A single message too large for any frame is a
 * bug (BODY_LIMIT_BYTES is checked at start so that a PREPARE always fits).
 */
export function splitFrames(messages: readonly unknown[], frameLimits: FrameLimits = limits): string[] {
  const frames: string[] = []
  let parts: string[] = []
  let bytes = 2 // the brackets
  for (const message of messages) {
    const part = JSON.stringify(message)
    const size = Buffer.byteLength(part)
    invariant(size + 2 <= frameLimits.maxFrameBytes, () => `a message of ${size} bytes (${part.slice(0, 40)}…) fits in no frame of ${frameLimits.maxFrameBytes}`)
    const comma = parts.length > 0 ? 1 : 0
    if (parts.length === frameLimits.maxMessagesPerFrame || bytes + comma + size > frameLimits.maxFrameBytes) {
      frames.push(`[${parts.join(',')}]`)
      parts = []
      bytes = 2
    }
    bytes += (parts.length > 0 ? 1 : 0) + size
    parts.push(part)
  }
  if (parts.length > 0) frames.push(`[${parts.join(',')}]`)
  return frames
}
