import type { Decoded } from '../../core/protocol/codec.ts'
import type { Logger } from '../runtime/logger.ts'

/** What a link end has refused: whole frames, and single messages inside otherwise good frames. */
export interface RefusalCounts {
  refusedFrames: number
  refusedMessages: number
}

export interface RefusalLog {
  logger: Logger
  /** Fields every refusal line carries (e.g. which participant's link). */
  fields?: Record<string, unknown>
  /** Where, appended to the message (e.g. " on the acceptor link"). */
  on?: string
}

/**
 * The messages of a decoded frame that go on to be handled. A malformed
 * frame, or a malformed message in it, is counted and logged, never more:
 * the link stays (the README's bad-input rule for WebSocket frames).
 */
export function acceptedMessages<T>(decoded: Decoded<T>, counts: RefusalCounts, { logger, fields = {}, on = '' }: RefusalLog): T[] {
  if (!decoded.ok) {
    counts.refusedFrames++
    logger.warn({ ...fields, code: 'bad_frame', error: decoded.error }, `refused a malformed frame${on}`)
    return []
  }
  for (const refused of decoded.refused) {
    counts.refusedMessages++
    logger.warn({ ...fields, code: 'bad_frame', error: refused.error }, `refused a malformed message${on}; the rest of its frame is handled`)
  }
  return decoded.messages
}
