import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import type { CoordinatorEffect, CoordinatorEvent, CoordinatorOptions, DecisionRecord } from '../../../../shared/core/coordinator/types.ts'

const P = ['p1', 'p2', 'p3']
type E = CoordinatorEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const options: CoordinatorOptions = { participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true, protocol: 'paxos-commit' }

function setup(opts: Partial<CoordinatorOptions> = {}, records: DecisionRecord[] = []) {
  const m = new CoordinatorMachine({ ...options, ...opts })
  const step = (e: E): CoordinatorEffect[] => m.step({ ...e, now: 1000 })
  const started = step({ type: 'start', epoch: 1, epochs: [{ epoch: 1, startedAt: 1000 }], records })
  for (const p of P) step({ type: 'connected', participant: p })
  return { m, step, started }
}
const sends = (effects: CoordinatorEffect[], type: string) => effects.filter((e): e is Extract<CoordinatorEffect, { type: 'send' }> => e.type === 'send' && e.msg.type === type)
const replies = (effects: CoordinatorEffect[]) => effects.filter((e): e is Extract<CoordinatorEffect, { type: 'reply' }> => e.type === 'reply')
const writes = [{ key: 'a', value: '1' }]
const msg = (from: string, m: Extract<E, { type: 'message' }>['msg']): E => ({ type: 'message', from, msg: m })
const yes = (from: string) => msg(from, { type: 'vote', txId: '1.1', yes: true, versions: { a: 1 } })
const ballot = 2 ** 20 * 4 // the coordinator's first ballot in epoch 1

t.test('committed once every instance is chosen at ballot 0: no synced write of its own, the record is a cache', async (t) => {
  const { step, m } = setup()
  step({ type: 'request', reqId: 1, writes })
  t.same(step(yes('p1')), [])
  step(yes('p2'))
  step(yes('p3'))
  t.equal(m.state.txns.get('1.1')?.phase, 'preparing', 'the votes alone choose nothing: each instance needs a quorum')
  step(msg('p2', { type: 'phase2b', txId: '1.1', ballot: 0, from: 'p2', values: { p1: 'prepared', px: 'prepared' } }))
  step(msg('p3', { type: 'phase2b', txId: '1.1', ballot: 0, from: 'p3', values: { p2: 'prepared' } }))
  const done = step(msg('p1', { type: 'phase2b', txId: '1.1', ballot: 0, from: 'p1', values: { p3: 'prepared', p2: 'prepared' } }))
  t.match(done.filter((e) => e.type === 'persist'), [{ kind: 'commit-decision', sync: false }])
  t.match(replies(done), [{ reqId: 1, body: { ok: true, result: { outcome: 'committed', versions: { a: 1 } } } }])
  t.equal(sends(done, 'commit').length, 3)
  t.same(step(msg('p9', { type: 'phase2b', txId: '1.1', ballot: 0, from: 'p9', values: {} })), [], 'from no participant, or about a decided transaction: ignored')
})

t.test('the vote timer leads a ballot; a refusal raises the next one; the chosen outcome is told to everyone', async (t) => {
  const { step, m } = setup({ maxRecoveryRounds: 2 })
  step({ type: 'request', reqId: 1, writes })
  step({ type: 'disconnected', participant: 'p3' })
  t.equal(m.state.txns.get('1.1')?.phase, 'preparing', 'a disconnect aborts nothing: the vote may still be chosen')
  step(yes('p1'))
  const first = step({ type: 'timer', timer: { kind: 'vote', txId: '1.1' } })
  t.same(sends(first, 'phase1a').map((e) => [e.to, e.msg]), [['p1', { type: 'phase1a', txId: '1.1', ballot }], ['p2', { type: 'phase1a', txId: '1.1', ballot }]])
  t.match(first.filter((e) => e.type === 'setTimer'), [{ afterMs: 200 }], 'the next round waits twice as long')
  step(msg('p1', { type: 'phase1b', txId: '1.1', ballot, from: 'p1', accepted: {}, promised: ballot + 9 }))
  t.same(step(msg('p1', { type: 'phase1b', txId: '1.1', ballot: ballot - 4, from: 'p1', accepted: {} })), [], 'a 1b of another ballot')
  const second = step({ type: 'timer', timer: { kind: 'vote', txId: '1.1' } })
  const b2 = ballot + 12
  t.match(sends(second, 'phase1a'), [{ msg: { ballot: b2 } }, {}])
  t.equal(second.filter((e) => e.type === 'setTimer').length, 0, 'the last round')
  step(msg('p1', { type: 'phase1b', txId: '1.1', ballot: b2, from: 'p1', accepted: { p1: { ballot: 0, value: 'prepared' } } }))
  const p2a = step(msg('p2', { type: 'phase1b', txId: '1.1', ballot: b2, from: 'p2', accepted: {} }))
  t.match(sends(p2a, 'phase2a'), [{ msg: { ballot: b2, values: { p1: 'prepared', p2: 'aborted', p3: 'aborted' } } }, {}])
  t.same(step(msg('p1', { type: 'phase2b', txId: '1.1', ballot: ballot, from: 'p1', values: {} })), [], 'a 2b of an older ballot')
  step(msg('p1', { type: 'phase2b', txId: '1.1', ballot: b2, from: 'p1', values: {} }))
  const decided = step(msg('p2', { type: 'phase2b', txId: '1.1', ballot: b2, from: 'p2', values: {} }))
  t.match(replies(decided), [{ body: { ok: true, result: { outcome: 'aborted', reasons: [{ participant: 'p2', code: 'vote_timeout' }, { participant: 'p3' }] } } }])
  t.equal(sends(decided, 'abort').length, 3)
})

t.test('an outcome told by a participant decides; nothing is presumed of a transaction it does not know', async (t) => {
  const { step, m } = setup()
  step({ type: 'request', reqId: 1, writes })
  t.match(replies(step(msg('p2', { type: 'outcome', txId: '1.1', from: 'p2', outcome: 'committed' }))), [{ body: { ok: true, result: { outcome: 'committed' } } }])
  t.same(step(msg('p2', { type: 'outcome', txId: '1.1', from: 'p2', outcome: 'committed' })), [], 'decided already')
  t.same(step(msg('p1', { type: 'vote', txId: '9.9', yes: true, versions: {} })), [], 'a late YES for an unknown transaction: no presumed ABORT')
  // A query about a transaction it has no record of (begun before a restart, without a client id): it leads a ballot.
  const led = step(msg('p1', { type: 'query', txId: '0.7' }))
  t.match(sends(led, 'phase1a'), [{ msg: { txId: '0.7', ballot } }, {}, {}])
  t.equal(m.state.txns.get('0.7')?.recovered, true)
})

t.test('a query of an unknown transaction waits while the coordinator is full', async (t) => {
  const { step, m } = setup({ maxInFlight: 1 })
  step({ type: 'request', reqId: 1, writes })
  t.same(step(msg('p1', { type: 'query', txId: '0.7' })), [])
  t.equal(m.state.txns.has('0.7'), false)
})

t.test('restarted with an undecided record: it finds the outcome as a recovery leader instead of presuming abort', async (t) => {
  const record: DecisionRecord = { txId: '0.3', clientId: 'c1', writesHash: 'h', keys: ['a'], outcome: 'undecided', createdAt: 900, ended: false }
  const { started, m } = setup({}, [record])
  t.equal(m.state.txns.get('0.3')?.phase, 'preparing')
  t.equal(m.state.inFlight, 1)
  t.match(started.filter((e) => e.type === 'setTimer'), [{ timer: { kind: 'vote', txId: '0.3' } }, { timer: { kind: 'gc' } }])
  t.equal(started.filter((e) => e.type === 'persist').length, 0, 'no presumed abort written')
})

t.test("a request with a client id: its record is synced before any PREPARE leaves (the acceptors may choose without this coordinator's disk)", async (t) => {
  const { step } = setup()
  const e = step({ type: 'request', reqId: 1, clientId: 'c1', writes })
  const begin = e.find((x): x is Extract<CoordinatorEffect, { type: 'persist' }> => x.type === 'persist')!
  t.match(begin, { kind: 'begin', sync: true })
  t.equal(sends(e, 'prepare').length, 0)
  t.equal(sends(step({ type: 'persisted', token: begin.token }), 'prepare').length, 3)
  // The vote timer fired before the record was durable: its ballot chooses aborted, and no PREPARE follows.
  const late = step({ type: 'request', reqId: 2, clientId: 'c2', writes: [{ key: 'b', value: '2' }] })
  const begin2 = late.find((x): x is Extract<CoordinatorEffect, { type: 'persist' }> => x.type === 'persist')!
  step({ type: 'timer', timer: { kind: 'vote', txId: '1.2' } })
  t.same(sends(step({ type: 'persisted', token: begin2.token }), 'prepare'), [])
})

t.test('under 2PC no participant decides: its Paxos messages are logged and ignored', async (t) => {
  const { step, m } = setup({ protocol: '2pc' })
  step({ type: 'request', reqId: 1, writes })
  for (const p of P) step(msg(p, { type: 'phase2b', txId: '1.1', ballot: 0, from: p, values: { p1: 'prepared', p2: 'prepared', p3: 'prepared' } }))
  const told = step(msg('p1', { type: 'outcome', txId: '1.1', from: 'p1', outcome: 'committed' }))
  t.match(told, [{ type: 'log', level: 'warn', msg: 'outcome message under 2PC; ignored', txId: '1.1', participant: 'p1' }])
  t.match(step(msg('p1', { type: 'phase1b', txId: '1.1', ballot: 5, from: 'p1', accepted: {} })), [{ type: 'log', msg: 'phase1b message under 2PC; ignored' }])
  t.equal(m.state.txns.get('1.1')?.phase, 'preparing')
})

t.test("a participant that would drop its marker asks: the answer leaves once this coordinator's record (or its absence) is synced", async (t) => {
  const { step, m } = setup()
  const ask = (txId: string, outcome: 'committed' | 'aborted') => step(msg('p2', { type: 'resolved', txId, from: 'p2', outcome, ask: true }))
  step({ type: 'request', reqId: 1, writes })
  t.same(ask('1.1', 'committed'), [], 'still being decided: answered when asked again')
  for (const p of P) step(msg(p, { type: 'phase2b', txId: '1.1', ballot: 0, from: p, values: { p1: 'prepared', p2: 'prepared', p3: 'prepared' } }))
  t.equal(m.state.txns.get('1.1')?.phase, 'committed')
  const known = ask('1.1', 'committed')
  const [write] = known.filter((e) => e.type === 'persist')
  t.match(write, { kind: 'confirm', sync: true, ops: [{ type: 'put', key: 'tx/1.1' }] }, 'the record again, synced: its decision was written unsynced')
  t.same(sends(known, 'resolved'), [], 'nothing before that write is durable')
  t.same(sends(step({ type: 'persisted', token: write!.token }), 'resolved').map((s) => [s.to, s.msg]), [['p2', { type: 'resolved', txId: '1.1', from: 'coordinator', outcome: 'committed', ask: false }]], 'told to the asker')
  const unknown = ask('1.9', 'aborted')
  t.match(unknown, [{ type: 'persist', kind: 'confirm', sync: true, ops: [{ type: 'del', key: 'tx/1.9' }] }], 'no record: a synced delete, so that none can come back')
  t.match(sends(step({ type: 'persisted', token: (unknown[0] as { token: number }).token }), 'resolved'), [{ to: 'p2', msg: { txId: '1.9', outcome: 'aborted' } }])
  t.same(step(msg('p2', { type: 'resolved', txId: '1.1', from: 'p2', outcome: 'committed', ask: false })), [], 'an answer is nothing to a coordinator')
  t.throws(() => ask('1.1', 'aborted'), /1\.1: p2 resolved it aborted, this coordinator committed/, 'two outcomes: a crash, not a log line')
})
