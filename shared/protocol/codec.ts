import { Compile } from 'typebox/compile'
import type { TSchema, Static } from 'typebox'
import { ToCoordinator, ToParticipant, limits } from './messages.ts'

/**
 * Pure frame codec. One WebSocket message carries a JSON array of protocol
 * messages, so that messages produced in the same tick can travel together.
 * Decoding never throws: a bad frame is a typed error the adapter logs.
 */
export type Decoded<T> = { ok: true; messages: T[] } | { ok: false; error: string }

function makeDecoder<S extends TSchema>(schema: S): (data: string) => Decoded<Static<S>> {
  const validator = Compile(schema)
  return (data) => {
    if (data.length > limits.maxFrameBytes) return { ok: false, error: 'frame too large' }
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      return { ok: false, error: 'frame is not JSON' }
    }
    if (!Array.isArray(parsed)) return { ok: false, error: 'frame is not an array of messages' }
    if (parsed.length === 0 || parsed.length > limits.maxMessagesPerFrame) {
      return { ok: false, error: `frame must carry 1..${limits.maxMessagesPerFrame} messages` }
    }
    for (const [index, message] of parsed.entries()) {
      if (!validator.Check(message)) {
        const [first] = validator.Errors(message) // a failed Check always has at least one error
        return { ok: false, error: `message ${index}: ${first!.instancePath || '/'} ${first!.message}` }
      }
    }
    return { ok: true, messages: parsed as Static<S>[] }
  }
}

export const decodeToParticipant = makeDecoder(ToParticipant)
export const decodeToCoordinator = makeDecoder(ToCoordinator)

export function encodeFrame(messages: readonly (ToParticipant | ToCoordinator)[]): string {
  return JSON.stringify(messages)
}
