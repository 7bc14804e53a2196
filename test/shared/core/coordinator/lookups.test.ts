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

// ---- Paxos Commit: a lookup that finds nobody knowing the outcome finishes the transaction -------------------

const paxos: CoordinatorOptions = { ...options, protocol: 'paxos-commit' }
/** c2's first ballot in epoch 1: round 2^20, five leaders (c1, c2, p1, p2, p3), c2's index 1. */
const firstBallot = 2 ** 20 * 5 + 1

function paxosSetup(connected = P, opts: Partial<CoordinatorOptions> = {}) {
  const m = new CoordinatorMachine({ ...paxos, ...opts })
  const step = (e: E): CoordinatorEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', epoch: 1, epochs: [{ epoch: 1, startedAt: 1000 }], records: [] })
  for (const p of connected) step({ type: 'connected', participant: p })
  const answer = (from: string, reqId: number, txId: string, state: 'committed' | 'aborted' | 'prepared' | 'unknown') => step({ type: 'message', from, msg: { type: 'statusResult', reqId, txId, state } })
  const msg = (from: string, m: Extract<E, { type: 'message' }>['msg']) => step({ type: 'message', from, msg: m })
  /** A lookup of c1:4.2 that every connected participant answers: p2 holds it prepared, the others do not know it. */
  const inDoubt = (reqId: number): CoordinatorEffect[] => {
    step({ type: 'lookup', reqId, txId: 'c1:4.2' })
    let last: CoordinatorEffect[] = []
    for (const p of connected) last = answer(p, reqId, 'c1:4.2', p === 'p2' ? 'prepared' : 'unknown')
    return last
  }
  return { m, step, answer, msg, inDoubt }
}
const sent = (effects: CoordinatorEffect[], type: string) => effects.flatMap((e) => (e.type === 'send' && e.msg.type === type ? [[e.to, e.msg] as const] : []))

t.test('Paxos Commit: in doubt everywhere asked, the lookup leads a ballot, learns the outcome, tells the participants and answers it', async (t) => {
  const { m, msg, inDoubt } = paxosSetup()
  const led = inDoubt(1)
  t.same(replies(led), [], 'no answer yet: this coordinator leads a ballot instead')
  t.same(sent(led, 'phase1a'), P.map((p) => [p, { type: 'phase1a', txId: 'c1:4.2', ballot: firstBallot }]), 'phase 1a of its own ballot to every connected participant')
  t.same(replies(msg('p1', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot + 5, from: 'p1', accepted: {} })), [], 'a 1b of another ballot is not its own')
  t.same(msg('p9', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot, from: 'p9', accepted: {} }), [], 'nor one from a stranger')
  t.same(msg('p2', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot, from: 'p2', accepted: { p2: { ballot: 0, value: 'prepared' }, p1: { ballot: 0, value: 'prepared' } } }), [], 'one promise is not a quorum')
  const phase2 = msg('p3', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot, from: 'p3', accepted: { p1: { ballot: 0, value: 'prepared' }, p3: { ballot: 0, value: 'prepared' } } })
  t.same(sent(phase2, 'phase2a').map(([to, m]) => [to, m]), P.map((p) => [p, { type: 'phase2a', txId: 'c1:4.2', ballot: firstBallot, values: { p1: 'prepared', p2: 'prepared', p3: 'prepared' } }]), 'phase 2a proposes what the quorum reported accepted')
  t.same(msg('p1', { type: 'phase2b', txId: 'c1:4.2', ballot: firstBallot, from: 'p1', values: {} }), [], 'one acceptance chooses nothing')
  const chosen = msg('p3', { type: 'phase2b', txId: 'c1:4.2', ballot: firstBallot, from: 'p3', values: {} })
  t.same(replies(chosen), [{ ok: true, txId: 'c1:4.2', state: 'committed', learnedFrom: `recovery ballot ${firstBallot} of this coordinator` }])
  t.same(sent(chosen, 'outcome'), P.map((p) => [p, { type: 'outcome', txId: 'c1:4.2', from: 'c2', outcome: 'committed' }]), 'and every connected participant is told the outcome')
  t.same(m.state.lookups.size, 0)
  t.same(msg('p2', { type: 'phase2b', txId: 'c1:4.2', ballot: firstBallot, from: 'p2', values: {} }), [], 'a late 2b finds nothing to answer')

  const again = paxosSetup()
  again.inDoubt(1)
  const second = again.inDoubt(2)
  t.match(sent(second, 'phase1a')[0], ['p1', { ballot: firstBallot + 5 }], 'a second lookup of it leads a ballot of its own, above the first')
  again.msg('p1', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot + 5, from: 'p1', accepted: {} })
  const aborting = again.msg('p3', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot + 5, from: 'p3', accepted: {} })
  t.same(sent(aborting, 'phase2a')[0]?.[1], { type: 'phase2a', txId: 'c1:4.2', ballot: firstBallot + 5, values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } }, 'nobody in the quorum accepted a vote: aborted, never prepared on another participant\'s behalf')
  const told = again.msg('p3', { type: 'outcome', txId: 'c1:4.2', from: 'p3', outcome: 'aborted' })
  t.same(replies(told), [1, 2].map(() => ({ ok: true, txId: 'c1:4.2', state: 'aborted', learnedFrom: 'p3' })), 'an acceptor that knows the outcome answers every lookup leading it')
  t.same(sent(told, 'outcome').map(([to, m]) => [to, m]), P.map((p) => [p, { type: 'outcome', txId: 'c1:4.2', from: 'c2', outcome: 'aborted' }]), 'told to every connected participant')
  t.same(again.msg('p3', { type: 'outcome', txId: 'c1:4.2', from: 'p3', outcome: 'aborted' }), [], 'told again: nothing leads it any more')
})

t.test('Paxos Commit: the lookup answers "in doubt" when it cannot lead, or its ballot does not finish', async (t) => {
  const preempted = paxosSetup()
  preempted.inDoubt(1)
  t.match(replies(preempted.msg('p1', { type: 'phase1b', txId: 'c1:4.2', ballot: firstBallot, from: 'p1', accepted: {}, promised: firstBallot + 8 })), [{ ok: false, error: 'txn_in_doubt', message: `c1:4.2 is in doubt, and a recovery ballot (${firstBallot + 8}) is under way elsewhere; retry later` }], 'a higher ballot is under way: its leader finishes it')

  const slow = paxosSetup()
  slow.inDoubt(1)
  t.match(replies(slow.step({ type: 'timer', timer: { kind: 'lookup', reqId: 1 } })), [{ ok: false, error: 'txn_in_doubt', message: `c1:4.2 is prepared at p2, and this coordinator's recovery ballot ${firstBallot} did not finish in time; retry later` }], 'the lookup\'s time is up')

  const few = paxosSetup(['p1', 'p2'])
  few.step({ type: 'disconnected', participant: 'p1' })
  few.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  t.match(replies(few.answer('p2', 1, 'c1:4.2', 'prepared')), [{ ok: false, error: 'txn_in_doubt', message: /prepared at p2/ }], 'one participant connected: no quorum to lead with')

  const nobody = paxosSetup()
  nobody.step({ type: 'lookup', reqId: 1, txId: 'c1:4.2' })
  nobody.answer('p1', 1, 'c1:4.2', 'unknown')
  nobody.answer('p2', 1, 'c1:4.2', 'unknown')
  t.match(replies(nobody.step({ type: 'disconnected', participant: 'p3' })), [{ ok: false, error: 'txn_in_doubt', message: /p3 did not answer/ }], 'held prepared nowhere that answered: no ballot, which would only leave acceptor records behind')

  const spent = paxosSetup()
  spent.m.state.lookupBallot = (2 ** 20 * 2) * 5 - 1
  t.match(replies(spent.inDoubt(1)), [{ ok: false, error: 'txn_in_doubt', message: /prepared at p2, its outcome not known yet/ }], 'no ballot left in this epoch: in doubt rather than a ballot of the next epoch')
})
