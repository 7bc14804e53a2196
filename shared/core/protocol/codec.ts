import { Compile } from 'typebox/compile'
import type { Static, TSchema } from 'typebox'
import { limits, toCoordinatorSchemas, toParticipantSchemas, type ToCoordinator, type ToParticipant } from './messages.ts'

/**
 * Pure frame codec. One WebSocket message carries a JSON array of protocol
 * messages, so that messages produced in the same tick can travel together.
 * Decoding never throws. A frame that is not a JSON array of 1..N messages is
 * refused whole; inside a good frame each message is checked on its own, and
 * an invalid one is refused alone: the valid messages beside it (a `hello`, a
 * vote) are still delivered, so one bad message cannot take a link down.
 */
export interface RefusedMessage {
  index: number
  error: string
}

export type Decoded<T> = { ok: true; messages: T[]; refused: RefusedMessage[] } | { ok: false; error: string }

interface Validator<T> {
  check: (message: unknown) => message is T
  /** Why a message does not match (the first error, against its own type's schema), or undefined when it does. */
  explain: (message: unknown) => string | undefined
}

/**
 * Checks a message against the schema of its own `type` (a union's errors
 * would name the properties of whichever member the validator tried last).
 */
function makeValidator<M extends Record<string, TSchema>>(members: M): Validator<Static<M[keyof M]>> {
  const byType = new Map(Object.entries(members).map(([type, schema]) => [type, Compile(schema)]))
  const validatorOf = (message: unknown) => {
    const type: unknown = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined
    return typeof type === 'string' ? byType.get(type) : undefined
  }
  const check = (message: unknown): message is Static<M[keyof M]> => validatorOf(message)?.Check(message) === true
  return {
    check,
    explain: (message) => {
      const validator = validatorOf(message)
      if (!validator) return typeof message === 'object' && message !== null ? '/type is not a known message type' : '/ must be a message object'
      if (validator.Check(message)) return undefined
      const [first] = validator.Errors(message) // a failed Check always has at least one error
      return `${first!.instancePath || '/'} ${first!.message}`
    },
  }
}

function makeDecoder<T>(validator: Validator<T>): (data: string) => Decoded<T> {
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
    const messages: T[] = []
    const refused: RefusedMessage[] = []
    for (const [index, message] of (parsed as unknown[]).entries()) {
      if (validator.check(message)) messages.push(message)
      else refused.push({ index, error: `message ${index}: ${validator.explain(message)!}` })
    }
    return { ok: true, messages, refused }
  }
}

const toParticipant = makeValidator(toParticipantSchemas)
const toCoordinator = makeValidator(toCoordinatorSchemas)

export const decodeToParticipant = makeDecoder(toParticipant)
export const decodeToCoordinator = makeDecoder(toCoordinator)

/** Why the receiver would refuse this message, or undefined: machines check what they emit (an invariant). */
export const explainToParticipant = toParticipant.explain
export const explainToCoordinator = toCoordinator.explain

export function encodeFrame(messages: readonly (ToParticipant | ToCoordinator)[]): string {
  return JSON.stringify(messages)
}
