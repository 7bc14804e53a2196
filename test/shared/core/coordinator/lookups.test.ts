import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import type { CoordinatorEffect, CoordinatorEvent, CoordinatorOptions } from '../../../../shared/core/coordinator/types.ts'

/** Coordinator c2 looks up transactions of c1 (which may be dead) at the participants. */
const P = ['p1', 'p2', 'p3']
type E = CoordinatorEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const options: CoordinatorOptions = { participants: P, defaultTimeoutMs: 100, maxInFlight: 2, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true, name: 'c2', coordinators: ['c1', 'c2'], readTimeoutMs: 300 }

function setup(connected = P) {
  const m = new CoordinatorMachine(options)
  const step = (e: E): CoordinatorEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', epoch: 1, epochs: [{ epoch: 1, startedAt: 1000 }], records: [] })
  for (const p of connected) step({ type: 'connected', participant: p })
  const answer = (from: string, reqId: number, txId: string, state: 'committed' | 'aborted' | 'prepared' | 'unknown') => step({ type: 'message', from, msg: { type: 'statusResult', reqId, txId, state } })
  return { m, step, answer }
}
const replies = (effects: CoordinatorEffect[]) => effects.flatMap((e) => (e.type === 'lookupReply' ? [e.body] : []))

t.test('every connected participant is asked; the first that knows the outcome settles it', async (t) => {
  const { step, answer } = setup()
  const asked = step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  t.same(asked.filter((e) => e.type === 'send').map((e) => [e.to, e.msg]), P.map((p) => [p, { type: 'statusQuery', reqId: 1, txId: 'c1:4.2' }]))
  t.match(asked.find((e) => e.type === 'setTimer'), { timer: { kind: 'lookup', reqId: 1 }, afterMs: 300 })
  t.same(replies(answer('p1', 1, 'c1:4.2', 'prepared')), [], 'p1 is in doubt: wait for the others')
  t.same(replies(answer('p3', 1, 'c1:9.9', 'committed')), [], 'an answer about another transaction is ignored')
  const settled = answer('p2', 1, 'c1:4.2', 'committed')
  t.same(replies(settled), [{ ok: true, txId: 'c1:4.2', state: 'committed', learnedFrom: 'p2' }])
  t.match(settled.find((e) => e.type === 'cancelTimer'), { timer: { kind: 'lookup', reqId: 1 } })
  t.same(replies(answer('p3', 1, 'c1:4.2', 'committed')), [], 'a late answer finds nothing waiting')
})

t.test('nobody knows the outcome: in doubt if one holds it prepared, unknown if none knows it', async (t) => {
  const doubt = setup()
  doubt.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  doubt.answer('p1', 1, 'c1:4.2', 'unknown')
  doubt.answer('p2', 1, 'c1:4.2', 'prepared')
  t.match(replies(doubt.answer('p3', 1, 'c1:4.2', 'unknown')), [{ ok: false, error: 'txn_in_doubt', message: /prepared at p2/ }])
  const none = setup()
  none.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  none.answer('p1', 1, 'c1:4.2', 'unknown')
  t.same(replies(none.answer('p1', 1, 'c1:4.2', 'unknown')), [], 'one participant answers once')
  none.answer('p2', 1, 'c1:4.2', 'unknown')
  t.match(replies(none.answer('p3', 1, 'c1:4.2', 'unknown')), [{ ok: false, error: 'unknown_transaction', message: /no participant knows c1:4.2/ }])
})

t.test('a participant that goes away or stays silent leaves the answer open, never "unknown"', async (t) => {
  const gone = setup()
  gone.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  gone.answer('p1', 1, 'c1:4.2', 'unknown')
  gone.answer('p2', 1, 'c1:4.2', 'unknown')
  t.same(replies(gone.step({ type: 'disconnected', participant: 'p1' })), [], 'one that answered already going changes nothing')
  t.match(replies(gone.step({ type: 'disconnected', participant: 'p3' })), [{ ok: false, error: 'txn_in_doubt', message: /p3 did not answer/ }])
  const silent = setup()
  silent.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  t.same(replies(silent.step({ type: 'disconnected', participant: 'p1' })), [], 'the others may still answer')
  t.match(replies(silent.step({ type: 'timer', timer: { kind: 'lookup', reqId: 1 } })), [{ ok: false, error: 'txn_in_doubt', message: /p1, p2, p3 did not answer/ }])
  t.same(replies(silent.step({ type: 'timer', timer: { kind: 'lookup', reqId: 1 } })), [], 'a timer after the answer does nothing')
  t.same(replies(silent.step({ type: 'disconnected', participant: 'p2' })), [], 'nor does a disconnect')
})

t.test('its own transactions, strangers, no participant, too many lookups', async (t) => {
  const { step } = setup()
  t.match(replies(step({ type: 'lookup', reqId: 1, txId: 'c2:1.9' })), [{ ok: false, error: 'unknown_transaction', message: /never started, or forgotten past retention/ }], 'its own: unknown without asking')
  t.match(replies(step({ type: 'lookup', reqId: 2, txId: 'zz:1.1' })), [{ ok: false, error: 'unknown_transaction', message: /no coordinator named zz/ }])
  t.match(replies(setup([]).step({ type: 'lookup', reqId: 1, txId: 'c1:1.1' })), [{ ok: false, error: 'no_replica' }])
  step({ type: 'lookup', reqId: 3, txId: 'c1:1.1' })
  step({ type: 'lookup', reqId: 4, txId: 'c1:1.2' })
  t.match(replies(step({ type: 'lookup', reqId: 5, txId: 'c1:1.3' })), [{ ok: false, error: 'overloaded' }], 'maxInFlight lookups at most')
  const { readTimeoutMs: _unset, ...defaults } = options
  const plain = new CoordinatorMachine(defaults)
  plain.step({ type: 'start', now: 0, epoch: 1, epochs: [{ epoch: 1, startedAt: 0 }], records: [] })
  plain.step({ type: 'connected', now: 0, participant: 'p1' })
  t.match(plain.step({ type: 'lookup', now: 0, reqId: 1, txId: 'c1:1.1' }).find((e) => e.type === 'setTimer'), { afterMs: 5000 }, 'READ_TIMEOUT_MS bounds a lookup too (5 s by default)')
})
