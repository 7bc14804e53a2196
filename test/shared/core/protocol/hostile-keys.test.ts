import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import { describeTxn } from '../../../../shared/core/coordinator/describe.ts'
import type { CoordinatorEffect, DecisionRecord } from '../../../../shared/core/coordinator/types.ts'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import { planParticipantRecovery } from '../../../../shared/core/participant/recovery.ts'
import type { ParticipantEffect, PreparedRecord } from '../../../../shared/core/participant/types.ts'
import { decodeToCoordinator, decodeToParticipant, encodeFrame } from '../../../../shared/core/protocol/codec.ts'
import { keyedObject, mapFromObject, objectFromMap, ownValue } from '../../../../shared/core/protocol/keyed-object.ts'
import type { StoreOp } from '../../../../shared/core/store.ts'

const HOSTILE = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']
const writes = HOSTILE.map((key) => ({ key, value: `v-${key}` }))
const participantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100 }
const sendsOf = (effects: (ParticipantEffect | CoordinatorEffect)[]) => effects.flatMap((e) => (e.type === 'send' ? [e.msg] : []))
const persistsOf = (effects: (ParticipantEffect | CoordinatorEffect)[]) => effects.flatMap((e) => (e.type === 'persist' ? [e] : []))
/** What the wire does to a message: encode, then decode as the peer would. */
const overWire = (msg: object, decode: typeof decodeToCoordinator | typeof decodeToParticipant): unknown => {
  const decoded = decode(encodeFrame([msg as never]))
  return decoded.ok && decoded.refused.length === 0 ? decoded.messages[0] : decoded
}
/** What LevelDB's JSON encoding does to a stored value. */
const onDisk = (ops: StoreOp[]): [string, unknown][] => ops.flatMap((op) => (op.type === 'put' ? [[op.key, JSON.parse(JSON.stringify(op.value)) as unknown] as [string, unknown]] : []))

t.test('a participant keeps a version for every hostile key: vote, apply, read, and recovery from disk', async (t) => {
  const m = new ParticipantMachine(participantOptions)
  m.step({ type: 'start', now: 1, entries: [], prepared: [], resolved: [] })
  m.step({ type: 'connected', now: 1 })
  const [prepare] = persistsOf(m.step({ type: 'message', now: 2, msg: { type: 'prepare', txId: '1.1', writes } }))
  const [vote] = sendsOf(m.step({ type: 'persisted', now: 3, token: prepare!.token }))
  const received = overWire(vote!, decodeToCoordinator) as { versions: Record<string, number> }
  t.same(Object.entries(received.versions), HOSTILE.map((k) => [k, 1]), 'the vote names every key, __proto__ included, and passes the codec')
  const [apply] = persistsOf(m.step({ type: 'message', now: 4, msg: { type: 'commit', txId: '1.1' } }))
  const stored = onDisk(apply!.ops).filter(([k]) => k.startsWith('kv/'))
  t.same(stored, HOSTILE.map((k) => [`kv/${k}`, { value: `v-${k}`, version: 1 }]), 'each stored entry has a numeric version')
  m.step({ type: 'persisted', now: 5, token: apply!.token })
  for (const key of HOSTILE) {
    const [answer] = sendsOf(m.step({ type: 'message', now: 6, msg: { type: 'read', reqId: 1, key } }))
    t.same(overWire(answer!, decodeToCoordinator), { type: 'readResult', reqId: 1, entry: { value: `v-${key}`, version: 1 } }, `read of ${key}`)
  }
  // Recovery reads the disk back: the PREPARED record's versions must come back as they went in.
  const again = new ParticipantMachine(participantOptions)
  const [record] = onDisk(prepare!.ops)
  const plan = planParticipantRecovery([...stored, record!])
  again.step({ type: 'start', now: 10, ...plan })
  t.same(again.state.prepared.get('1.1')?.versions, new Map(HOSTILE.map((k) => [k, 1])), 'the in-doubt record keeps every version')
  t.equal(again.state.kv.get('__proto__')?.version, 1)
  const [precondition] = sendsOf(again.step({ type: 'message', now: 11, msg: { type: 'prepare', txId: '1.2', writes: [{ key: 'toString', value: 'x', ifAbsent: true }] } }))
  t.match(precondition, { yes: false, reason: { code: 'conflict', key: 'toString' } }, 'the recovered lock holds')
})

t.test('a coordinator keeps every hostile key in its decision, its reply, its record and its status answer', async (t) => {
  const m = new CoordinatorMachine({ participants: ['p1'], defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50 })
  m.step({ type: 'start', now: 1, epoch: 1, epochs: [{ epoch: 1, startedAt: 1 }], records: [] })
  m.step({ type: 'connected', now: 1, participant: 'p1' })
  m.step({ type: 'request', now: 2, reqId: 1, writes, clientId: 'c1' })
  const versions = JSON.parse(`{${HOSTILE.map((k) => `"${k}":7`).join(',')}}`) as Record<string, number>
  const [decision] = persistsOf(m.step({ type: 'message', now: 3, from: 'p1', msg: { type: 'vote', txId: '1.1', yes: true, versions } }))
  const reply = m.step({ type: 'persisted', now: 4, token: decision!.token }).find((e) => e.type === 'reply')
  const body = reply?.type === 'reply' && reply.body.ok ? reply.body.result : undefined
  t.same(Object.entries(JSON.parse(JSON.stringify(body?.versions)) as object), HOSTILE.map((k) => [k, 7]), 'the client is told every version')
  const [, record] = onDisk(decision!.ops)[0]!
  t.same(Object.entries((record as DecisionRecord).versions!), HOSTILE.map((k) => [k, 7]), 'the decision record keeps them')
  const status = describeTxn(m.state, ['p1'], '1.1', 5, 1000, 'coordinator')
  t.same(Object.entries(JSON.parse(JSON.stringify(status?.versions)) as object), HOSTILE.map((k) => [k, 7]), 'the status answer shows them')
})

t.test('keyed objects: no prototype, own entries only', async (t) => {
  const o = objectFromMap(new Map([['__proto__', 1], ['toString', 2]]))
  t.equal(Object.getPrototypeOf(o), null)
  t.equal(JSON.stringify(o), '{"__proto__":1,"toString":2}')
  t.same(mapFromObject(JSON.parse('{"__proto__":1}') as Record<string, number>), new Map([['__proto__', 1]]))
  t.same(mapFromObject(undefined), new Map())
  t.equal(ownValue({ a: 1 }, 'toString'), undefined, 'an inherited member is not a value')
  t.equal(ownValue(JSON.parse('{"__proto__":3}') as Record<string, number>, '__proto__'), 3)
  t.equal(ownValue(undefined, 'a'), undefined)
  const empty = keyedObject<number>()
  const name = '__proto__' as string
  empty[name] = 4
  t.same(Object.keys(empty), ['__proto__'])
})

t.test('a machine cannot emit a message its peer would refuse: the step stops with an invariant violation', async (t) => {
  const participant = new ParticipantMachine(participantOptions)
  // Version 0 is no committed version: a replica that holds one is corrupt, and its read answer would be refused.
  participant.step({ type: 'start', now: 1, entries: [['a', { value: 'x', version: 0 }]], prepared: [] as PreparedRecord[], resolved: [] })
  t.throws(() => participant.step({ type: 'message', now: 2, msg: { type: 'read', reqId: 1, key: 'a' } }), { name: 'InvariantViolation', message: /^participant emitted a readResult message its peer would refuse \(\/entry/ })
  const coordinator = new CoordinatorMachine({ participants: ['p1'], defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50 })
  coordinator.step({ type: 'start', now: 1, epoch: 1, epochs: [], records: [] })
  coordinator.step({ type: 'connected', now: 1, participant: 'p1' })
  t.throws(() => coordinator.step({ type: 'request', now: 2, reqId: 1, writes: [] }), { name: 'InvariantViolation', message: /^coordinator emitted a prepare message/ }, 'a PREPARE with no writes')
})
