import t from 'tap'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions } from '../../../../shared/core/participant/types.ts'
import { claimKey, claimValue } from '../../../../shared/core/protocol/client-id-claim.ts'

/** A client id's claim is an ordinary ifAbsent write to the participant, but checked before the client's keys, and a NO about it says who holds it. */
type E = ParticipantEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const options: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true, coordinators: ['c1', 'c2'] }
const claim = { key: claimKey('order-7'), value: claimValue({ txId: 'c1:1.1', digest: 'd' }), ifAbsent: true }

function setup() {
  const m = new ParticipantMachine(options)
  const step = (e: E): ParticipantEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', entries: [], prepared: [], resolved: [], acceptors: [] })
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  const complete = (effects: ParticipantEffect[]): ParticipantEffect[] => effects.filter((e) => e.type === 'persist').flatMap((p) => step({ type: 'persisted', token: p.token }))
  const vote = (effects: ParticipantEffect[]) => effects.flatMap((e) => (e.type === 'send' && e.msg.type === 'vote' ? [e.msg] : []))
  return { step, complete, vote }
}

t.test('the claim is checked first: a retry hears about its id, not about a lock on one of its keys', async (t) => {
  const { step, complete, vote } = setup()
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes: [{ key: 'a', value: '1' }, claim] } }))
  complete(step({ type: 'message', from: 'c1', msg: { type: 'commit', txId: 'c1:1.1' } }))
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.2', writes: [{ key: 'a', value: 'other' }] } })) // holds a's lock
  const retry = vote(step({ type: 'message', from: 'c2', msg: { type: 'prepare', txId: 'c2:1.1', writes: [{ key: 'a', value: '1' }, { ...claim, value: claimValue({ txId: 'c2:1.1', digest: 'd' }) }] } }))
  t.match(retry, [{ txId: 'c2:1.1', yes: false, reason: { code: 'precondition_failed', key: claimKey('order-7'), found: claim.value } }], 'the claim exists: its value goes with the NO')
  const plain = vote(step({ type: 'message', from: 'c2', msg: { type: 'prepare', txId: 'c2:1.2', writes: [{ key: 'a', value: '2', ifAbsent: true }] } }))
  t.match(plain, [{ yes: false, reason: { code: 'conflict', key: 'a' } }])
  t.notOk('found' in plain[0]!.reason!, 'a client key: no value goes with the NO')
})

t.test('the claim held by a transaction in doubt: a conflict on the claim, whatever the other keys', async (t) => {
  const { step, complete, vote } = setup()
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes: [{ key: 'a', value: '1' }, claim] } }))
  const retry = vote(step({ type: 'message', from: 'c2', msg: { type: 'prepare', txId: 'c2:1.1', writes: [{ key: 'b', value: '1', ifVersion: 5 }, { ...claim, value: claimValue({ txId: 'c2:1.1', digest: 'd' }) }] } }))
  t.match(retry, [{ yes: false, reason: { code: 'conflict', key: claimKey('order-7'), message: 'key is held by prepared transaction c1:1.1' } }])
})

t.test('the claiming transaction committed, its apply still being written: the claim counts, and its value goes with the NO', async (t) => {
  const { step, complete, vote } = setup()
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes: [{ key: 'a', value: '1' }, claim] } }))
  step({ type: 'message', from: 'c1', msg: { type: 'commit', txId: 'c1:1.1' } }) // the apply's write is not done
  const retry = vote(step({ type: 'message', from: 'c2', msg: { type: 'prepare', txId: 'c2:1.1', writes: [{ key: 'a', value: '1' }, { ...claim, value: claimValue({ txId: 'c2:1.1', digest: 'd' }) }] } }))
  t.match(retry, [{ yes: false, reason: { code: 'precondition_failed', key: claimKey('order-7'), found: claim.value } }])
})
