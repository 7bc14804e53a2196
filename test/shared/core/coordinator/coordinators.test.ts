import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import type { CoordinatorEffect, CoordinatorEvent, CoordinatorOptions } from '../../../../shared/core/coordinator/types.ts'

/** Coordinator c2 of two (c1, c2): its ids name it, its ballots are its own, and another coordinator's transactions are not its business. */
const P = ['p1', 'p2', 'p3']
type E = CoordinatorEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const base: CoordinatorOptions = { participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true, name: 'c2', coordinators: ['c1', 'c2'] }
const writes = [{ key: 'a', value: '1' }]

function setup(opts: Partial<CoordinatorOptions> = {}) {
  const m = new CoordinatorMachine({ ...base, ...opts })
  const step = (e: E): CoordinatorEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', epoch: 1, epochs: [{ epoch: 1, startedAt: 1000 }], records: [] })
  for (const p of P) step({ type: 'connected', participant: p })
  return { m, step }
}
const sends = (effects: CoordinatorEffect[]) => effects.filter((e): e is Extract<CoordinatorEffect, { type: 'send' }> => e.type === 'send')

t.test('a named coordinator puts its name in its transaction ids and in its messages', async (t) => {
  const { step } = setup({ protocol: 'paxos-commit' })
  t.match(sends(step({ type: 'request', reqId: 1, writes })), [{ to: 'p1', msg: { type: 'prepare', txId: 'c2:1.1' } }])
  const ballots = sends(step({ type: 'timer', timer: { kind: 'vote', txId: 'c2:1.1' } }))
  t.equal((ballots[0]!.msg as { ballot: number }).ballot % 5, 1, 'leaders are c1, c2, p1, p2, p3: c2 owns index 1')
  const asked = step({ type: 'message', from: 'p1', msg: { type: 'resolved', txId: 'c2:0.9', from: 'p1', outcome: 'aborted', ask: true } })
  const confirm = asked.find((e) => e.type === 'persist')!
  t.match(sends(step({ type: 'persisted', token: confirm.token })), [{ to: 'p1', msg: { type: 'resolved', from: 'c2', ask: false } }])
})

t.test("another coordinator's transaction: no ballot, no presumed outcome, no record", async (t) => {
  const paxos = setup({ protocol: 'paxos-commit' })
  t.same(paxos.step({ type: 'message', from: 'p1', msg: { type: 'query', txId: 'c1:1.1' } }), [], 'Paxos Commit: not led from here')
  t.same(paxos.step({ type: 'message', from: 'p1', msg: { type: 'resolved', txId: 'c1:1.1', from: 'p1', outcome: 'committed', ask: true } }), [], 'not confirmed from here')
  t.equal(paxos.m.state.inFlight, 0)
  const twoPc = setup()
  t.same(twoPc.step({ type: 'message', from: 'p1', msg: { type: 'query', txId: 'c1:1.1' } }), [], '2PC: no presumed abort for c1')
  t.same(sends(twoPc.step({ type: 'message', from: 'p1', msg: { type: 'query', txId: 'c2:0.1' } })).map((s) => s.msg.type), ['abort'], 'its own unknown transaction is presumed aborted')
  t.equal(twoPc.m.describe('c1:0.1', 1000), undefined, "c1's id: unknown here, not presumed")
})

t.test('a coordinator missing from the list is a configuration bug', async (t) => {
  t.throws(() => new CoordinatorMachine({ ...base, coordinators: ['c1'] }), /coordinator c2 is not among the coordinators c1/)
})
