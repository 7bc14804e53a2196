import t from 'tap'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions, PreparedRecord } from '../../../../shared/core/participant/types.ts'
import type { AcceptorRecord } from '../../../../shared/core/paxos/acceptor.ts'

type E = ParticipantEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const base: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true }
const paxosWithoutRecoveryTime: ParticipantOptions = { ...base, protocol: 'paxos-commit', name: 'p2', participants: ['p1', 'p2', 'p3'] }
const paxos: ParticipantOptions = { ...paxosWithoutRecoveryTime, recoveryAfterMs: 300 }
const writes = [{ key: 'a', value: 'x' }]

function setup(opts: ParticipantOptions, recovered: { prepared?: PreparedRecord[]; acceptors?: AcceptorRecord[] } = {}) {
  const m = new ParticipantMachine(opts)
  const step = (e: E): ParticipantEffect[] => m.step({ ...e, now: 1000 })
  const start = step({ type: 'start', entries: [], prepared: recovered.prepared ?? [], resolved: [], acceptors: recovered.acceptors ?? [] })
  const msg = (msg: Extract<E, { type: 'message' }>['msg']) => step({ type: 'message', msg })
  /** Completes every write the effects asked for, in order; returns what the completions emitted. */
  const complete = (effects: ParticipantEffect[]): ParticipantEffect[] => effects.filter((e) => e.type === 'persist').flatMap((p) => step({ type: 'persisted', token: p.token }))
  return { m, step, msg, complete, start }
}
const peers = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'sendPeer' }> => e.type === 'sendPeer')
const toCoordinator = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'send' }> => e.type === 'send').map((e) => e.msg)
const recoverTimers = (effects: ParticipantEffect[]) => effects.filter((e) => e.type === 'setTimer' && e.timer.kind === 'recover')

t.test('under 2PC a Paxos message is logged and ignored', async (t) => {
  const { msg } = setup(base)
  t.match(msg({ type: 'phase1a', txId: '1.1', ballot: 5 }), [{ type: 'log', level: 'warn', msg: 'phase1a message under 2PC; ignored', txId: '1.1' }])
})

t.test('YES: the PREPARED record and its own ballot-0 acceptance in one synced batch, then the vote and a 2a to each other acceptor', async (t) => {
  const { msg, complete } = setup(paxos)
  const e = msg({ type: 'prepare', txId: '1.1', writes })
  t.match(e, [{ type: 'persist', kind: 'prepare', sync: true, ops: [{ key: 'prep/1.1' }, { key: 'acc/1.1', value: { promised: 0, accepted: { p2: { ballot: 0, value: 'prepared' } } } }] }])
  const after = complete(e)
  t.match(toCoordinator(after), [{ type: 'vote', yes: true }])
  t.same(peers(after).map((p) => [p.to, p.msg]), [['p1', { type: 'phase2a', txId: '1.1', ballot: 0, values: { p2: 'prepared' } }], ['p3', { type: 'phase2a', txId: '1.1', ballot: 0, values: { p2: 'prepared' } }]])
  t.match(recoverTimers(after), [{ afterMs: 300 + 100 }], 'p2 waits a third of the base longer than p1')
})

t.test('NO is made durable before it leaves, and a PREPARE that arrives after a recovery began is refused', async (t) => {
  const { msg, complete, m } = setup(paxos)
  msg({ type: 'prepare', txId: '1.1', writes })
  const no = msg({ type: 'prepare', txId: '1.2', writes })
  t.match(no, [{ type: 'persist', kind: 'abort', sync: true, ops: [{ key: 'done/1.2' }] }])
  t.same(toCoordinator(no), [])
  t.same(msg({ type: 'prepare', txId: '1.2', writes }), [], 'a duplicate while the refusal is written: nothing')
  t.match(toCoordinator(complete(no)), [{ type: 'vote', yes: false, reason: { code: 'conflict' } }])
  t.equal(m.state.resolved.get('1.2')?.outcome, 'aborted')
  const promised = msg({ type: 'phase1a', txId: '1.3', ballot: 7 })
  t.match(promised, [{ type: 'persist', kind: 'accept', sync: true }])
  t.match(toCoordinator(complete(msg({ type: 'prepare', txId: '1.3', writes: [{ key: 'b', value: 'y' }] }))), [{ type: 'vote', yes: false, reason: { code: 'already_resolved', message: /recovery .* began/ } }])
  // Still an acceptor of the others' instances: the promise of ballot 7 holds (the swarm's seed 753 found a refusal that dropped it).
  t.same(msg({ type: 'phase2a', txId: '1.3', ballot: 0, values: { p1: 'prepared' } }).filter((e) => e.type === 'persist'), [])
  t.equal(m.state.acceptors.get('1.3')?.promised, 7)
  const learned = msg({ type: 'abort', txId: '1.3' })
  t.match(learned.filter((e) => e.type === 'persist'), [{ kind: 'abort', ops: [{ type: 'del', key: 'acc/1.3' }, { key: 'done/1.3' }] }], 'it goes once the outcome is learned')
})

t.test('a PREPARE repeated while its NO is written gets nothing, even once the conflict is gone', async (t) => {
  // Found by the 10,000-seed swarm: the repeat voted YES, and a restart found the transaction both prepared and resolved.
  const { msg, complete, m } = setup(paxos)
  const holder = msg({ type: 'prepare', txId: '1.1', writes })
  const no = msg({ type: 'prepare', txId: '1.2', writes })
  complete(holder)
  complete(complete(msg({ type: 'abort', txId: '1.1' })))
  t.equal(m.state.locks.size, 0, 'the conflicting lock is gone')
  t.same(msg({ type: 'prepare', txId: '1.2', writes }), [])
  t.match(toCoordinator(complete(no)), [{ type: 'vote', yes: false }])
  t.equal(m.state.prepared.has('1.2'), false)
})

t.test('an outcome learned while the NO is still written is what the acceptor tells', async (t) => {
  // Found by the swarm (seed 900): the learned ABORT dropped the acceptor record, and a ballot-0 2a that came
  // before the NO was durable was accepted by a fresh one, choosing prepared where aborted was chosen.
  const { msg, complete } = setup(paxos)
  msg({ type: 'prepare', txId: '1.1', writes })
  const no = msg({ type: 'prepare', txId: '1.2', writes })
  msg({ type: 'abort', txId: '1.2' })
  const late = msg({ type: 'phase2a', txId: '1.2', ballot: 0, values: { p1: 'prepared' } })
  t.same(late.filter((e) => e.type === 'persist'), [], 'nothing accepted')
  t.match(toCoordinator(late), [{ type: 'outcome', txId: '1.2', outcome: 'aborted' }])
  t.match(toCoordinator(complete(no)), [{ type: 'vote', yes: false }])
})

t.test('an acceptor tells what it knows: the outcome once resolved, a refusal below its promise, nothing for a repeat', async (t) => {
  const { msg, complete } = setup(paxos)
  const p = complete(msg({ type: 'phase1a', txId: '1.1', ballot: 9 }))
  t.same(peers(p).map((x) => [x.to, x.msg]), [['p1', { type: 'phase1b', txId: '1.1', ballot: 9, from: 'p2', accepted: {} }]], 'ballot 9 is p1\'s')
  t.same(msg({ type: 'phase1a', txId: '1.1', ballot: 9 }), [], 'the same ballot again')
  t.same(peers(msg({ type: 'phase1a', txId: '1.1', ballot: 5 })).map((x) => x.msg), [{ type: 'phase1b', txId: '1.1', ballot: 5, from: 'p2', accepted: {}, promised: 9 }])
  t.same(msg({ type: 'phase2a', txId: '1.1', ballot: 5, values: { p1: 'aborted' } }), [], 'a 2a below the promise is ignored')
  const a = complete(msg({ type: 'phase2a', txId: '1.1', ballot: 9, values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } }))
  t.match(peers(a), [{ to: 'p1', msg: { type: 'phase2b', ballot: 9, from: 'p2' } }])
  msg({ type: 'outcome', txId: '1.1', from: 'p1', outcome: 'aborted' })
  t.match(toCoordinator(msg({ type: 'phase1a', txId: '1.1', ballot: 12 })), [{ type: 'outcome', txId: '1.1', from: 'p2', outcome: 'aborted' }], "ballot 12 is the coordinator's")
})

t.test('a recovery leader asks the coordinator while connected, and leads without it', async (t) => {
  const { step, complete, m } = setup({ ...paxos, maxRecoveryRounds: 1 }, { prepared: [{ txId: '1.1', writes, versions: { a: 1 }, preparedAt: 900 }] })
  step({ type: 'connected' })
  const asked = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.match(toCoordinator(asked), [{ type: 'query', txId: '1.1' }])
  t.equal(recoverTimers(asked).length, 1)
  step({ type: 'disconnected' })
  const lead = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.match(lead, [{ type: 'log', msg: 'leading the recovery of a transaction in doubt', ballot: 6 }, { type: 'persist', kind: 'accept', ops: [{ value: { promised: 6, accepted: {} } }] }], 'a PREPARED record without an acceptor record (written under 2PC) promises from scratch')
  t.equal(recoverTimers(lead).length, 0, 'no second round with maxRecoveryRounds 1')
  const phase1 = complete(lead)
  t.same(peers(phase1).map((x) => x.to), ['p1', 'p3'])
  t.same(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } }), [], 'rounds used up')
  // p3 promises too: a quorum, so phase 2 proposes aborted everywhere (nobody reported an accepted value).
  const phase2 = step({ type: 'message', msg: { type: 'phase1b', txId: '1.1', ballot: 6, from: 'p3', accepted: {} } })
  t.match(peers(phase2), [{ to: 'p1', msg: { type: 'phase2a', values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } } }, { to: 'p3' }])
  step({ type: 'message', msg: { type: 'phase1b', txId: '1.1', ballot: 6, from: 'p1', accepted: {}, promised: 40 } })
  t.equal(m.state.leading.get('1.1')?.highestSeen, 40, 'a refusal raises where its next ballot starts')
  complete(phase2)
  step({ type: 'connected' })
  const chosen = step({ type: 'message', msg: { type: 'phase2b', txId: '1.1', ballot: 6, from: 'p3', values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } } })
  t.match(toCoordinator(chosen), [{ type: 'outcome', txId: '1.1', from: 'p2', outcome: 'aborted' }], 'the coordinator is told too, when connected')
  t.match(peers(chosen).map((x) => x.msg), [{ type: 'outcome', outcome: 'aborted' }, { type: 'outcome', outcome: 'aborted' }])
  t.same(step({ type: 'message', msg: { type: 'phase2b', txId: '1.1', ballot: 4, from: 'p1', values: {} } }), [], 'a 2b of no ballot it leads')
})

t.test('connected, it leaves the lead to the coordinator only so long: it may reach too few acceptors', async (t) => {
  const { m, step } = setup({ ...paxos, maxRecoveryRounds: 1 }, { prepared: [{ txId: '1.1', writes, versions: { a: 1 }, preparedAt: 900 }] })
  step({ type: 'connected' })
  const late = m.step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' }, now: 900 + 4 * 300 })
  t.match(late, [{ type: 'log', msg: 'leading the recovery of a transaction in doubt' }, { type: 'persist', kind: 'accept' }])
})

t.test('a leader that hears a refusal goes above it next round; one told the outcome passes it on', async (t) => {
  const { step, complete, m } = setup({ ...paxosWithoutRecoveryTime, maxRecoveryRounds: 3 }, { prepared: [{ txId: '1.1', writes, versions: { a: 1 }, preparedAt: 900 }], acceptors: [{ txId: '1.1', promised: 0, accepted: { p2: { ballot: 0, value: 'prepared' } } }] })
  const first = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.match(recoverTimers(first), [{ afterMs: 200 * 2 + 66 }], 'without recoveryAfterMs it waits queryAfterMs, doubled after a round')
  complete(first)
  step({ type: 'message', msg: { type: 'phase1b', txId: '1.1', ballot: 6, from: 'p1', accepted: {}, promised: 21 } })
  const second = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.match(second, [{ type: 'log', ballot: 26 }], 'the next ballot of its own above 21')
  complete(second)
  const told = step({ type: 'message', msg: { type: 'outcome', txId: '1.1', from: 'p3', outcome: 'committed' } })
  t.match(told.filter((e) => e.type === 'persist'), [{ kind: 'apply' }])
  t.equal(peers(told).length, 2, 'passed on to p1 and p3')
  t.equal(m.state.leading.size, 0)
})

t.test('skip-phase-1 (a flawed variant): proposes from its own acceptor alone', async (t) => {
  const { step } = setup({ ...paxos, unsafeBugs: { skipPhase1: true } }, { prepared: [{ txId: '1.1', writes, versions: { a: 1 }, preparedAt: 900 }] })
  t.match(peers(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })), [{ msg: { type: 'phase2a', ballot: 6, values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } } }, {}])
})

t.test('a recovery timer of a transaction no longer prepared does nothing', async (t) => {
  const { step } = setup(paxos)
  t.same(step({ type: 'timer', timer: { kind: 'recover', txId: '1.9' } }), [])
})
