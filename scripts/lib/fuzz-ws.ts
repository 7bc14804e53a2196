import fc from 'fast-check'
import { decodeToCoordinator, decodeToParticipant } from '../../shared/core/protocol/codec.ts'
import { limits } from '../../shared/core/protocol/messages.ts'

/**
 * Generated WebSocket frames for one side of a peer link (fast-check,
 * seeded), kept to those the receiver must refuse: whole frames refused (not
 * JSON, not an array of 1..N messages, binary) and frames whose every
 * message is refused. The receiver runs the same codec, so the counts it
 * must report are known exactly; and a refused frame may change nothing.
 */
export interface FuzzFrame {
  data: string | Buffer
  /** What the receiver must count: a whole frame refused, or this many messages refused inside it. */
  refusedFrame: boolean
  refusedMessages: number
}

export type Side = 'participant' | 'coordinator'

const hostile = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', '\u0000', 'x'.repeat(600))
const wrongType = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), hostile, fc.array(fc.nat(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.nat(), { maxKeys: 3 }), fc.constant(-1), fc.constant(1.5))

const write = fc.oneof(fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), value: fc.string({ maxLength: 8 }) }), fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), delete: fc.constant(true) }))
const txId = fc.string({ minLength: 1, maxLength: 12 })

/** Valid messages of each type the side receives: the templates a mutation breaks. */
const templates: Record<Side, fc.Arbitrary<Record<string, unknown>>> = {
  participant: fc.oneof(
    fc.record({ type: fc.constant('prepare'), txId, writes: fc.array(write, { minLength: 1, maxLength: 3 }) }),
    fc.record({ type: fc.constantFrom('commit', 'abort'), txId }),
    fc.record({ type: fc.constant('read'), reqId: fc.nat(), key: fc.string({ minLength: 1, maxLength: 8 }) }),
    fc.record({ type: fc.constant('list'), reqId: fc.nat(), prefix: fc.string({ maxLength: 4 }), after: fc.string({ maxLength: 4 }), limit: fc.integer({ min: 1, max: 1000 }) }),
  ),
  coordinator: fc.oneof(
    fc.record({ type: fc.constant('hello'), participant: fc.string({ minLength: 1, maxLength: 8 }) }),
    fc.record({ type: fc.constant('vote'), txId, yes: fc.boolean() }),
    fc.record({ type: fc.constantFrom('ack', 'query'), txId }),
    fc.record({ type: fc.constant('readResult'), reqId: fc.nat(), entry: fc.oneof(fc.constant(null), fc.record({ value: fc.string({ maxLength: 8 }), version: fc.integer({ min: 1, max: 9 }) })) }),
    fc.record({ type: fc.constant('listResult'), reqId: fc.nat(), entries: fc.array(fc.record({ key: fc.string({ minLength: 1, maxLength: 8 }), value: fc.string({ maxLength: 8 }), version: fc.integer({ min: 1, max: 9 }) }), { maxLength: 3 }), more: fc.boolean() }),
  ),
}

/** A valid message with one part broken: a field of the wrong type, missing, unknown, or a nested part broken. */
function mutated(side: Side): fc.Arbitrary<unknown> {
  return fc.tuple(templates[side], fc.constantFrom('replace', 'remove', 'add', 'type', 'nested', 'whole'), wrongType, fc.nat()).map(([message, how, bad, pick]) => {
    const m: Record<string, unknown> = { ...message }
    const fields = Object.keys(m)
    const field = fields[pick % fields.length]!
    switch (how) {
      case 'replace':
        m[field] = bad
        break
      case 'remove':
        return Object.fromEntries(Object.entries(m).filter(([k]) => k !== field))
      case 'add':
        m[typeof bad === 'string' && bad !== '' ? bad : 'extra'] = bad
        break
      case 'type':
        m.type = bad
        break
      case 'nested':
        if (Array.isArray(m.writes)) m.writes = [{ ...(m.writes[0] as object), [pick % 2 === 0 ? 'key' : 'value']: bad }]
        else m.txId = 'x'.repeat(limits.maxTxIdLength + 1 + (pick % 5))
        break
      case 'whole':
        return bad
    }
    return m
  })
}

function frames(side: Side): fc.Arbitrary<string | Buffer> {
  return fc.oneof(
    { arbitrary: fc.array(mutated(side), { minLength: 1, maxLength: 5 }).map((ms) => JSON.stringify(ms)), weight: 10 },
    { arbitrary: fc.json({ maxDepth: 3 }), weight: 3 },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)), weight: 1 },
    { arbitrary: fc.constantFrom('[]', '{}', 'null', '[null]', '[[]]', '[{"type":"__proto__"}]', '[{"__proto__":{"type":"commit"},"txId":"1.1"}]', `[${'{},'.repeat(limits.maxMessagesPerFrame)}{}]`, `${'['.repeat(50_000)}${']'.repeat(50_000)}`), weight: 1 },
  )
}

/** How the receiver's codec classes a frame: refused whole, or the number of messages refused with none delivered. */
export function classify(side: Side, data: string | Buffer): FuzzFrame | undefined {
  if (typeof data !== 'string') return { data, refusedFrame: true, refusedMessages: 0 }
  const decoded = side === 'participant' ? decodeToParticipant(data) : decodeToCoordinator(data)
  if (!decoded.ok) return { data, refusedFrame: true, refusedMessages: 0 }
  return decoded.messages.length === 0 ? { data, refusedFrame: false, refusedMessages: decoded.refused.length } : undefined
}

/** n frames the receiver must refuse, for a seed: generated frames the codec would accept in part are skipped. */
export function refusedFrames(side: Side, seed: number, n: number): FuzzFrame[] {
  const out: FuzzFrame[] = []
  const arbitrary = frames(side)
  for (let round = 0; out.length < n; round++) {
    for (const data of fc.sample(arbitrary, { seed: seed + round, numRuns: n })) {
      const frame = classify(side, data)
      if (frame) out.push(frame)
      if (out.length === n) break
    }
  }
  return out
}
