import t from 'tap'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions, PreparedRecord } from '../../../../shared/core/participant/types.ts'
import type { AcceptorRecord } from '../../../../shared/core/paxos/acceptor.ts'
import { MAX_ASKS_PER_SWEEP } from '../../../../shared/core/participant/paxos.ts'

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

t.test('YES: the PREPARED record and its own ballot-0 acceptance in one synced batch, then the vote and a 2a to the next acceptor in ring order (F = 1)', async (t) => {
  const { msg, complete } = setup(paxos)
  const e = msg({ type: 'prepare', txId: '1.1', writes })
  t.match(e, [{ type: 'persist', kind: 'prepare', sync: true, ops: [{ key: 'prep/1.1' }, { key: 'acc/1.1', value: { promised: 0, accepted: { p2: { ballot: 0, value: 'prepared' } } } }] }])
  const after = complete(e)
  t.match(toCoordinator(after), [{ type: 'vote', yes: true }])
  t.same(peers(after).map((p) => [p.to, p.msg]), [['p3', { type: 'phase2a', txId: '1.1', ballot: 0, values: { p2: 'prepared' } }]], 'with its own, F + 1 = 2 acceptances choose: p1 would only add a synced write')
  t.match(recoverTimers(after), [{ afterMs: 300 + 100 }], 'p2 waits a third of the base longer than p1')
})

t.test('thrifty 2a: the ring wraps, and with 5 participants (F = 2) two acceptors get it', async (t) => {
  const { msg, complete } = setup({ ...paxos, name: 'p3' })
  t.same(peers(complete(msg({ type: 'prepare', txId: '1.1', writes }))).map((p) => p.to), ['p1'])
  const five = setup({ ...paxos, name: 'p4', participants: ['p1', 'p2', 'p3', 'p4', 'p5'] })
  t.same(peers(five.complete(five.msg({ type: 'prepare', txId: '1.1', writes }))).map((p) => p.to), ['p5', 'p1'])
})

t.test('still in doubt at the recovery timer: the ballot-0 proposal widens to every other acceptor, unless ballot 0 was promised away', async (t) => {
  const { msg, complete, step } = setup(paxos)
  complete(msg({ type: 'prepare', txId: '1.1', writes }))
  step({ type: 'connected' })
  const widened = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.same(peers(widened).map((p) => [p.to, p.msg]), [['p1', { type: 'phase2a', txId: '1.1', ballot: 0, values: { p2: 'prepared' } }]], 'p3 may be down or cut off: p1 now gets it too')
  t.match(toCoordinator(widened), [{ type: 'query', txId: '1.1' }], 'and the coordinator is asked, as before')
  const again = step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })
  t.same(peers(again), [], 'once: p1 would write and sync its acceptance again at every firing')
  t.match(toCoordinator(again), [{ type: 'query', txId: '1.1' }], 'the coordinator is still asked')
  complete(msg({ type: 'phase1a', txId: '1.1', ballot: 7 }))
  t.same(peers(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })), [], 'ballot 0 promised away: nothing to widen')
})

t.test('restarted in doubt: the recovered transaction widens once more (what the last incarnation sent may be lost)', async (t) => {
  const { step } = setup(paxos, { prepared: [{ txId: '1.1', writes, versions: { a: 1 }, preparedAt: 900 }], acceptors: [{ txId: '1.1', promised: 0, accepted: { p2: { ballot: 0, value: 'prepared' } } }] })
  step({ type: 'connected' })
  t.same(peers(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })).map((p) => p.to), ['p1'])
  t.same(peers(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } })), [], 'and once only')
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
  t.match(promised, [{ type: 'persist', kind: 'promise', sync: true }])
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
  t.match(lead, [{ type: 'log', msg: 'leading the recovery of a transaction in doubt', ballot: 6 }, { type: 'persist', kind: 'promise', ops: [{ value: { promised: 6, accepted: {} } }] }], 'a PREPARED record without an acceptor record (written under 2PC) promises from scratch')
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
  t.match(late, [{ type: 'log', msg: 'leading the recovery of a transaction in doubt' }, { type: 'persist', kind: 'promise' }])
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

// ---- a resolved marker stays while a peer may be in doubt ----------------------------------------------

/** A p2 with a clock: `at` sets the time of the next events. */
function clocked(opts: ParticipantOptions = paxos) {
  const m = new ParticipantMachine(opts)
  let now = 1000
  const step = (e: E): ParticipantEffect[] => m.step({ ...e, now })
  step({ type: 'start', entries: [], prepared: [], resolved: [], acceptors: [] })
  const msg = (msg: Extract<E, { type: 'message' }>['msg']) => step({ type: 'message', msg })
  const complete = (effects: ParticipantEffect[]): ParticipantEffect[] => effects.filter((e) => e.type === 'persist').flatMap((p) => step({ type: 'persisted', token: p.token }))
  const sweep = () => step({ type: 'timer', timer: { kind: 'sweep' } })
  const at = (ms: number): void => { now = ms }
  /** Prepares and commits txId here, with every write durable. */
  const commit = (txId: string, key = 'a'): void => {
    complete(msg({ type: 'prepare', txId, writes: [{ key, value: 'x' }] }))
    complete(msg({ type: 'commit', txId }))
  }
  return { m, step, msg, complete, sweep, at, commit }
}
const persists = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'persist' }> => e.type === 'persist')
const asks = (effects: ParticipantEffect[]) => peers(effects).map((p) => [p.to, p.msg])

t.test('a marker past retention is kept until every peer and the coordinator said they hold the outcome durably: asked after a synced rewrite, again each re-ask interval', async (t) => {
  const { m, msg, step, complete, sweep, at, commit } = clocked()
  commit('1.1')
  t.equal(m.state.acceptors.has('1.1'), false, 'the acceptor record went with the apply: the marker answers for it')
  at(2500) // retention is 1,000 ms
  const first = sweep()
  t.same(persists(first).map((p) => [p.kind, p.sync, p.ops.map((o) => `${o.type} ${o.key}`)]), [['confirm', true, ['put done/1.1']]], 'no gc: the marker is written again, synced, instead')
  t.same(peers(first), [], 'nothing leaves before that write is durable')
  const asked = complete(first)
  const ask = { type: 'resolved', txId: '1.1', from: 'p2', outcome: 'committed', ask: true }
  t.same(asks(asked), [['p1', ask], ['p3', ask]])
  t.same(toCoordinator(asked), [], 'the coordinator is asked only while connected')
  at(2600)
  t.same(persists(sweep()), [], 'within the re-ask interval (300 ms): not asked again')
  msg({ type: 'resolved', txId: '1.1', from: 'p1', outcome: 'committed', ask: false })
  step({ type: 'connected' })
  at(2800)
  const again = complete(sweep())
  t.same(asks(again), [['p3', ask]], 'only the peer that has not answered')
  t.same(toCoordinator(again), [ask], 'and the coordinator')
  msg({ type: 'resolved', txId: '1.1', from: 'coordinator', outcome: 'committed', ask: false })
  at(3100)
  const third = complete(sweep())
  t.same([asks(third), toCoordinator(third)], [[['p3', ask]], []], 'the coordinator answered, p3 not yet: kept, and p3 asked again')
  msg({ type: 'resolved', txId: '1.1', from: 'p3', outcome: 'committed', ask: false })
  t.same(persists(sweep()).map((p) => [p.kind, p.sync, p.ops.map((o) => `${o.type} ${o.key}`)]), [['gc', false, ['del done/1.1']]], 'everyone answered: it goes')
  t.equal(m.state.resolved.has('1.1'), false)
  t.equal(m.state.confirmations.size, 0)
})

t.test('asked by a peer: in doubt here it learns; mid-write it waits; resolved or unknown it answers after a synced write', async (t) => {
  const { m, msg, complete, commit } = clocked()
  // In doubt here: the asker resolved, so the outcome was chosen.
  complete(msg({ type: 'prepare', txId: '1.1', writes }))
  const learned = msg({ type: 'resolved', txId: '1.1', from: 'p1', outcome: 'committed', ask: true })
  t.match(persists(learned), [{ kind: 'apply', sync: true }])
  t.same(peers(learned), [], 'no answer yet: the asker asks again')
  // Mid-write: the apply of 1.1 is not durable yet.
  t.same(msg({ type: 'resolved', txId: '1.1', from: 'p3', outcome: 'committed', ask: true }), [])
  complete(learned)
  // Resolved here: the marker is written again, synced, and then the answer leaves; the asker counts as confirmed.
  const answer = msg({ type: 'resolved', txId: '1.1', from: 'p3', outcome: 'committed', ask: true })
  t.same(persists(answer).map((p) => [p.kind, p.sync, p.ops.map((o) => `${o.type} ${o.key}`)]), [['confirm', true, ['put done/1.1']]])
  t.same(peers(answer), [])
  t.same(asks(complete(answer)), [['p3', { type: 'resolved', txId: '1.1', from: 'p2', outcome: 'committed', ask: false }]])
  t.same(m.state.confirmations.get('1.1')?.peers, ['p3'])
  // Unknown here (never prepared, or forgotten once every peer confirmed): a delete is the synced write.
  const unknown = msg({ type: 'resolved', txId: '1.9', from: 'p1', outcome: 'aborted', ask: true })
  t.same(persists(unknown).map((p) => [p.kind, p.sync, p.ops.map((o) => `${o.type} ${o.key}`)]), [['confirm', true, ['del done/1.9']]])
  t.same(asks(complete(unknown)), [['p1', { type: 'resolved', txId: '1.9', from: 'p2', outcome: 'aborted', ask: false }]])
  t.equal(m.state.confirmations.has('1.9'), false, 'no marker, nothing counted')
  t.same(msg({ type: 'resolved', txId: '1.8', from: 'p1', outcome: 'aborted', ask: false }), [], 'an answer about a marker it does not keep: nothing')
  // A PREPARE of a transaction whose confirming write is still under way does not take that write for its own.
  const racing = msg({ type: 'resolved', txId: '1.7', from: 'p1', outcome: 'aborted', ask: true })
  const prepared = msg({ type: 'prepare', txId: '1.7', writes: [{ key: 'b', value: 'y' }] })
  complete(racing)
  t.equal(m.state.prepared.get('1.7')?.phase, 'logging')
  complete(prepared)
  t.equal(m.state.prepared.get('1.7')?.phase, 'prepared')
  // Two answers that disagree are a broken protocol: a crash, not a log line.
  commit('1.2', 'c')
  t.throws(() => msg({ type: 'resolved', txId: '1.2', from: 'p1', outcome: 'aborted', ask: true }), /1\.2: p1 resolved it aborted, this node committed/)
})

t.test('a marker whose NO is still being written is not asked about; asks are bounded per sweep', async (t) => {
  const { m, msg, complete, sweep, at } = clocked()
  complete(msg({ type: 'prepare', txId: '1.1', writes }))
  const no = msg({ type: 'prepare', txId: '1.2', writes })
  msg({ type: 'abort', txId: '1.2' }) // learned while the NO is written: the marker is there, the refusal not durable
  at(2500)
  t.same(persists(sweep()), [], 'its NO is still being written: neither asked about nor dropped')
  complete(no) // the refusal is durable: its marker is dated now
  for (let i = 0; i < MAX_ASKS_PER_SWEEP; i++) msg({ type: 'abort', txId: `2.${i}` })
  at(4000)
  const many = persists(sweep())
  t.equal(many[0]?.ops.length, MAX_ASKS_PER_SWEEP, 'one sweep asks about so many markers at most')
  t.match(many[0]?.ops[0], { key: 'done/1.2' }, 'the oldest first')
  t.same(persists(sweep())[0]?.ops.map((o) => o.key), [`done/2.${MAX_ASKS_PER_SWEEP - 1}`], 'the next sweep asks about the rest')
  t.ok(m.state.resolved.size > MAX_ASKS_PER_SWEEP, 'none dropped: no peer answered')
})

t.test('GET /v1/in-doubt says who leads each recovery, at which ballot', async (t) => {
  const prepared = ['1.1', '1.2', '1.3', '1.4'].map((txId, i) => ({ txId, writes: [{ key: `k${i}`, value: 'x' }], versions: { [`k${i}`]: 1 }, preparedAt: 900 }))
  const { m, step, msg, complete } = setup(paxos, { prepared })
  complete(step({ type: 'timer', timer: { kind: 'recover', txId: '1.1' } }))
  complete(msg({ type: 'phase1a', txId: '1.2', ballot: 9 }))
  complete(msg({ type: 'phase1a', txId: '1.3', ballot: 12 }))
  t.same(m.inDoubt(1500).map((d) => [d.txId, d.recovery]), [
    ['1.1', { leader: 'p2', ballot: 6, phase: 'promising', rounds: 1 }],
    ['1.2', { leader: 'p1', ballot: 9 }],
    ['1.3', { leader: 'coordinator', ballot: 12 }],
    ['1.4', undefined],
  ])
})
