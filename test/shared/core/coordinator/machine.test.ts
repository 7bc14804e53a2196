import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import { COORDINATOR_NAME_PATTERN, coordinatorOf, epochOf, formatTxId } from '../../../../shared/core/protocol/tx-id.ts'
import { describeByClientId, describeTxn } from '../../../../shared/core/coordinator/describe.ts'
import type { CoordinatorEffect, CoordinatorEvent, DecisionRecord } from '../../../../shared/core/coordinator/types.ts'

const P = ['p1', 'p2', 'p3']
type E = CoordinatorEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never

function setup(opts: Partial<ConstructorParameters<typeof CoordinatorMachine>[0]> = {}, records: DecisionRecord[] = []) {
  const m = new CoordinatorMachine({ participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true, ...opts })
  let now = 1000
  const step = (e: E, at?: number): CoordinatorEffect[] => {
    if (at !== undefined) now = at
    return m.step({ ...e, now })
  }
  step({ type: 'start', epoch: 3, epochs: [{ epoch: 2, startedAt: 900 }, { epoch: 3, startedAt: 1000 }], records })
  return { m, step, connectAll: () => P.flatMap((p) => step({ type: 'connected', participant: p })) }
}

const sends = (effects: CoordinatorEffect[], type?: string) =>
  effects.filter((e): e is Extract<CoordinatorEffect, { type: 'send' }> => e.type === 'send' && (type === undefined || e.msg.type === type))
const replies = (effects: CoordinatorEffect[]) => effects.filter((e): e is Extract<CoordinatorEffect, { type: 'reply' }> => e.type === 'reply')
const timersSet = (effects: CoordinatorEffect[]) => effects.filter((e) => e.type === 'setTimer')
const readReplies = (effects: CoordinatorEffect[]) => effects.filter((e) => e.type === 'readReply')
const persists = (effects: CoordinatorEffect[]) => effects.filter((e): e is Extract<CoordinatorEffect, { type: 'persist' }> => e.type === 'persist')
/** The one persist a step emitted (a step that writes writes one batch): fails if it emitted none or several. */
function onlyPersist(effects: CoordinatorEffect[]): Extract<CoordinatorEffect, { type: 'persist' }> {
  const found = persists(effects)
  if (found.length !== 1) throw new Error(`expected exactly one persist effect, got ${found.length}: ${JSON.stringify(effects)}`)
  return found[0]!
}
const writes = [{ key: 'a', value: '1' }]
const yes = (txId: string, from: string) => ({ type: 'message' as const, from, msg: { type: 'vote' as const, txId, yes: true, versions: { a: 1 } } })

t.test('txIds carry the epoch so they never repeat across restarts, and name their coordinator', async (t) => {
  t.equal(formatTxId('coordinator', 7, 42), '7.42', 'the unnamed single coordinator leaves its name out')
  t.equal(formatTxId('c2', 7, 42), 'c2:7.42')
  t.equal(epochOf('7.42'), 7)
  t.equal(epochOf('c2:7.42'), 7)
  t.equal(coordinatorOf('7.42'), 'coordinator')
  t.equal(coordinatorOf('c2:7.42'), 'c2')
  t.equal(epochOf('nonsense'), undefined)
  t.ok(COORDINATOR_NAME_PATTERN.test('c2') && COORDINATOR_NAME_PATTERN.test('coordinator'))
  t.notOk(COORDINATOR_NAME_PATTERN.test('c:2') || COORDINATOR_NAME_PATTERN.test('') || COORDINATOR_NAME_PATTERN.test('C1'))
})

t.test('start arms the garbage collector and logs the recovery', async (t) => {
  const m = new CoordinatorMachine({ participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50 })
  const effects = m.step({ type: 'start', now: 1, epoch: 1, epochs: [], records: [] })
  t.match(effects, [{ type: 'log', level: 'info' }, { type: 'setTimer', timer: { kind: 'gc' }, afterMs: 50 }])
})

t.test('all YES votes: decision logged with sync, then reply and COMMIT to all, then END after all ACKs', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  const e1 = step({ type: 'request', reqId: 1, writes })
  t.same(sends(e1, 'prepare').map((s) => s.to), P, 'PREPARE goes to every participant')
  t.same(timersSet(e1), [{ type: 'setTimer', timer: { kind: 'vote', txId: '3.1' }, afterMs: 100 }], 'and arms the vote timer')
  t.same(step(yes('3.1', 'p1')), [])
  t.same(step(yes('3.1', 'p1')), [], 'a duplicate vote is harmless')
  step(yes('3.1', 'p2'))
  const decide = step(yes('3.1', 'p3'))
  const [decision] = persists(decide)
  t.match(decision, { kind: 'commit-decision', sync: true, ops: [{ type: 'put', key: 'tx/3.1', value: { outcome: 'committed' } }] })
  t.same(replies(decide), [], 'no reply before the decision is durable')
  t.same(sends(decide), [], 'no COMMIT before the decision is durable')
  t.same(describeTxn(m.state, P, '3.1', 1000, 1000, 'coordinator')?.state, 'preparing')
  const committed = step({ type: 'persisted', token: decision!.token })
  t.match(replies(committed), [{ reqId: 1, body: { ok: true, result: { txId: '3.1', outcome: 'committed', versions: { a: 1 } } } }])
  t.same(sends(committed, 'commit').map((s) => s.to), P)
  t.same(step({ type: 'persisted', token: decision!.token }), [], 'a repeated persisted event is ignored')
  step({ type: 'message', from: 'p1', msg: { type: 'ack', txId: '3.1' } })
  step({ type: 'message', from: 'p1', msg: { type: 'ack', txId: '3.1' } })
  step({ type: 'message', from: 'p2', msg: { type: 'ack', txId: '3.1' } })
  const end = step({ type: 'message', from: 'p3', msg: { type: 'ack', txId: '3.1' } })
  t.match(persists(end), [{ kind: 'end', sync: false, ops: [{ value: { ended: true } }] }])
  t.same(step({ type: 'message', from: 'p3', msg: { type: 'ack', txId: '3.1' } }), [], 'late ACK after END is ignored')
  t.equal(m.state.inFlight, 0)
  t.match(describeTxn(m.state, P, '3.1', 1000, 1000, 'coordinator'), { state: 'committed', ended: true, acks: { p1: true, p2: true, p3: true } })
})

t.test('a NO vote aborts at once with its reason, and ABORT goes to all', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  step(yes('3.1', 'p1'))
  const e = step({ type: 'message', from: 'p2', msg: { type: 'vote', txId: '3.1', yes: false, reason: { code: 'precondition_failed', key: 'a', message: 'nope' } } })
  t.match(replies(e), [{ body: { ok: true, result: { outcome: 'aborted', reasons: [{ participant: 'p2', code: 'precondition_failed', key: 'a' }] } } }])
  t.same(sends(e, 'abort').map((s) => s.to), P)
  t.match(persists(e), [{ kind: 'abort-decision', sync: false }], 'presumed abort: the abort record needs no fsync')
  t.match(e, [{ type: 'cancelTimer', timer: { kind: 'vote', txId: '3.1' } }])
  t.match(sends(step(yes('3.1', 'p3')), 'abort'), [{ to: 'p3' }], 'a late YES is told ABORT')
  t.same(step({ type: 'message', from: 'p3', msg: { type: 'vote', txId: '3.1', yes: false } }), [], 'a late NO needs nothing')
})

t.test('a NO vote without a reason is reported as a conflict', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  const e = step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: '3.1', yes: false } })
  t.match(replies(e), [{ body: { result: { reasons: [{ participant: 'p1', code: 'conflict' }] } } }])
})

t.test('votes from unknown participants are ignored', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  t.same(step(yes('3.1', 'intruder')), [])
})

t.test('vote timeout aborts naming the silent participants', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes, timeoutMs: 30 })
  step(yes('3.1', 'p1'))
  const e = step({ type: 'timer', timer: { kind: 'vote', txId: '3.1' } })
  t.match(replies(e), [{ body: { result: { outcome: 'aborted', reasons: [{ participant: 'p2', code: 'vote_timeout' }, { participant: 'p3', code: 'vote_timeout' }] } } }])
  t.same(step({ type: 'timer', timer: { kind: 'vote', txId: '3.1' } }), [], 'a stale timer does nothing')
})

t.test('a participant down at request time aborts at once, naming it, with nothing sent', async (t) => {
  const { step } = setup()
  step({ type: 'connected', participant: 'p1' })
  step({ type: 'connected', participant: 'p1' })
  const e = step({ type: 'request', reqId: 1, writes })
  t.same(sends(e), [])
  t.match(replies(e), [{ body: { result: { outcome: 'aborted', reasons: [{ participant: 'p2', code: 'participant_unavailable' }, { participant: 'p3', code: 'participant_unavailable' }] } } }])
})

t.test('losing a participant that has not voted aborts; one that voted YES keeps its vote', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  step({ type: 'request', reqId: 2, writes: [{ key: 'b', value: '2' }] })
  step(yes('3.1', 'p1'))
  const e = step({ type: 'disconnected', participant: 'p1' })
  t.match(replies(e), [{ reqId: 2, body: { result: { txId: '3.2', outcome: 'aborted', reasons: [{ participant: 'p1', code: 'participant_disconnected' }] } } }])
  t.equal(m.state.txns.get('3.1')?.phase, 'preparing')
  t.notOk(m.state.connected.includes('p1'))
})

t.test('COMMIT is re-sent to a participant that reconnects without having ACKed', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  for (const p of P) step(yes('3.1', p))
  const token = 1
  step({ type: 'persisted', token })
  step({ type: 'message', from: 'p1', msg: { type: 'ack', txId: '3.1' } })
  step({ type: 'disconnected', participant: 'p2' })
  const e = step({ type: 'connected', participant: 'p2' })
  t.match(sends(e), [{ to: 'p2', msg: { type: 'commit', txId: '3.1' } }])
  t.same(sends(step({ type: 'connected', participant: 'p1' })), [], 'p1 already ACKed')
})

t.test('status queries: preparing → answered once decided; committed → COMMIT; unknown → presumed ABORT', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  step(yes('3.1', 'p1'))
  const q = step({ type: 'message', from: 'p1', msg: { type: 'query', txId: '3.1' } })
  t.same([replies(q), sends(q)], [[], []], 'a query of an undecided transaction decides nothing and answers nothing yet')
  t.equal(m.state.txns.get('3.1')?.phase, 'preparing', 'the client\'s timeout still runs')
  step(yes('3.1', 'p2'))
  step(yes('3.1', 'p3'))
  t.equal(m.state.txns.get('3.1')?.phase, 'committing', 'the votes decide, as if nobody had asked')
  t.match(sends(step({ type: 'message', from: 'p2', msg: { type: 'query', txId: '9.9' } })), [{ msg: { type: 'abort', txId: '9.9' } }])

  step({ type: 'request', reqId: 2, writes })
  for (const p of P) step(yes('3.2', p))
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'query', txId: '3.2' } }), [], 'while the commit is being logged, COMMIT will follow')
  t.same(step(yes('3.2', 'p1')), [], 'a duplicate YES while committing needs nothing')
  const [decision] = [...m.state.pending.keys()].slice(-1)
  step({ type: 'persisted', token: decision! })
  t.match(sends(step({ type: 'message', from: 'p1', msg: { type: 'query', txId: '3.2' } })), [{ msg: { type: 'commit', txId: '3.2' } }])
  t.match(sends(step(yes('3.2', 'p1'))), [{ msg: { type: 'commit', txId: '3.2' } }], 'a duplicate YES after commit is told COMMIT')
})

t.test('client ids: a retry gets the recorded outcome, a different body is an id_conflict, an in-flight retry waits', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  const begin = step({ type: 'request', reqId: 1, writes, clientId: 'c1' })
  t.match(persists(begin), [{ kind: 'begin', sync: false, ops: [{ key: 'tx/3.1', value: { clientId: 'c1', outcome: 'undecided' } }] }], 'the client id is logged at once, without an fsync')
  t.same(replies(step({ type: 'request', reqId: 2, writes, clientId: 'c1' })), [], 'in flight: the retry waits for the same outcome')
  t.match(replies(step({ type: 'request', reqId: 3, writes: [{ key: 'z', value: '0' }], clientId: 'c1' })), [{ reqId: 3, body: { ok: false, error: 'id_conflict' } }])
  let decide: CoordinatorEffect[] = []
  for (const p of P) decide = step(yes('3.1', p))
  const done = step({ type: 'persisted', token: onlyPersist(decide).token })
  t.same(replies(done).map((r) => r.reqId), [1, 2])
  t.match(replies(step({ type: 'request', reqId: 4, writes, clientId: 'c1' })), [{ reqId: 4, body: { ok: true, result: { txId: '3.1', id: 'c1', outcome: 'committed' } } }])
  t.equal(m.state.nextSeq, 2, 'the retry did not run a second transaction')
  t.match(describeByClientId(m.state, P, 'c1'), { txId: '3.1', id: 'c1', state: 'committed' })
  t.equal(describeByClientId(m.state, P, 'nobody'), undefined)
})

t.test('back-pressure: beyond maxInFlight requests are refused as overloaded', async (t) => {
  const { step, connectAll } = setup({ maxInFlight: 1 })
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  t.match(replies(step({ type: 'request', reqId: 2, writes })), [{ reqId: 2, body: { ok: false, error: 'overloaded' } }])
})

t.test('recovery: a logged COMMIT without END is re-sent on connect; outcomes stay queryable; unknown old-epoch ids are presumed aborted', async (t) => {
  const records: DecisionRecord[] = [
    { txId: '2.1', writesHash: 1, keys: ['a'], outcome: 'committed', versions: { a: 1 }, createdAt: 950, decidedAt: 951, ended: false, clientId: 'c9' },
    { txId: '2.2', writesHash: 2, keys: ['b'], outcome: 'aborted', reasons: [], createdAt: 960, decidedAt: 961, ended: true },
  ]
  const { step, m } = setup({}, records)
  const e = step({ type: 'connected', participant: 'p1' })
  t.match(sends(e), [{ to: 'p1', msg: { type: 'commit', txId: '2.1' } }])
  t.match(describeTxn(m.state, P, '2.1', 1000, 1000, 'coordinator'), { state: 'committed', id: 'c9', ended: false })
  t.notOk(describeTxn(m.state, P, '2.1', 1000, 1000, 'coordinator')?.votes, 'votes are not logged, so not shown after a restart')
  t.match(describeTxn(m.state, P, '2.7', 1000, 1000, 'coordinator'), { state: 'aborted', presumed: true })
  t.equal(describeTxn(m.state, P, '1.7', 1000, 1000, 'coordinator'), undefined, 'an epoch we have no record of is unknown')
  t.equal(describeTxn(m.state, P, '2.7', 5000, 1000, 'coordinator'), undefined, 'past retention, we cannot tell')
  t.equal(describeTxn(m.state, P, '3.99', 1000, 1000, 'coordinator'), undefined, 'the current epoch never presumes')
  t.equal(describeTxn(m.state, P, 'junk', 1000, 1000, 'coordinator'), undefined)
  for (const p of P) step({ type: 'message', from: p, msg: { type: 'ack', txId: '2.1' } })
  t.equal(m.state.txns.get('2.1')?.ended, true)
})

t.test('recovery: a transaction started with a client id but never decided is recorded as aborted', async (t) => {
  const m = new CoordinatorMachine({ participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50 })
  const records: DecisionRecord[] = [{ txId: '1.4', clientId: 'cut-off', writesHash: 5, keys: ['a'], outcome: 'undecided', createdAt: 10, ended: false }]
  const effects = m.step({ type: 'start', now: 20, epoch: 2, epochs: [], records })
  t.match(persists(effects), [{ kind: 'abort-decision', sync: false, ops: [{ key: 'tx/1.4', value: { outcome: 'aborted', reasons: [{ participant: 'coordinator', code: 'coordinator_restarted' }] } }] }])
  t.match(describeByClientId(m.state, P, 'cut-off'), { txId: '1.4', state: 'aborted' })
  const retry = m.step({ type: 'request', now: 21, reqId: 1, writes: [], clientId: 'cut-off' })
  t.match(retry, [{ type: 'reply', body: { ok: false, error: 'id_conflict' } }], 'other writes under the same id are refused')
  t.match(sends(m.step({ type: 'message', now: 22, from: 'p1', msg: { type: 'query', txId: '1.4' } })), [{ msg: { type: 'abort' } }])
})

t.test('garbage collection forgets finished transactions past retention, never an unfinished commit', async (t) => {
  const records: DecisionRecord[] = [
    { txId: '2.1', writesHash: 1, keys: ['a'], outcome: 'committed', versions: { a: 1 }, createdAt: 100, decidedAt: 101, ended: false },
    { txId: '2.2', writesHash: 2, keys: ['b'], outcome: 'aborted', reasons: [], createdAt: 110, decidedAt: 111, ended: true, clientId: 'old' },
    { txId: '2.3', writesHash: 3, keys: ['c'], outcome: 'committed', createdAt: 5000, decidedAt: 5001, ended: true },
  ]
  const { step, m } = setup({ retentionMs: 1000 }, records)
  const e = step({ type: 'timer', timer: { kind: 'gc' } }, 3000)
  t.match(persists(e), [{ kind: 'gc', sync: false, ops: [{ type: 'del', key: 'tx/2.2' }, { type: 'del', key: 'epoch/0000000002' }] }])
  t.same(timersSet(e), [{ type: 'setTimer', timer: { kind: 'gc' }, afterMs: 50 }], 'the collector re-arms itself')
  t.ok(m.state.txns.has('2.1'), 'unfinished commit kept')
  t.notOk(m.state.txns.has('2.2'))
  t.notOk(m.state.byClientId.has('old'))
  t.same(persists(step({ type: 'timer', timer: { kind: 'gc' } }, 3001)), [], 'nothing more to collect')
})

t.test('hello and read results are adapter business: the machine ignores them', async (t) => {
  const { step } = setup()
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'hello', participant: 'p1' } }), [])
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 1, entry: null } }), [])
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'ack', txId: 'nope' } }), [])
})

t.test('a status description shows pending votes while preparing and hides nothing after an abort', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes, clientId: 'c' })
  step(yes('3.1', 'p1'))
  t.match(describeTxn(m.state, P, '3.1', 1000, 1000, 'coordinator'), { state: 'preparing', id: 'c', votes: { p1: 'yes', p2: 'pending', p3: 'pending' } })
  step({ type: 'timer', timer: { kind: 'vote', txId: '3.1' } })
  const d = describeTxn(m.state, P, '3.1', 1000, 1000, 'coordinator')
  t.match(d, { state: 'aborted', reasons: [{ code: 'vote_timeout' }], decidedAt: /T/ })
  t.notOk(d?.acks)
  t.notOk(d?.versions)
})

t.test('the durable write of an abort record or an END changes nothing', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  const [record] = persists(step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: '3.1', yes: false } }))
  t.same(step({ type: 'persisted', token: record!.token }), [])
  step({ type: 'request', reqId: 2, writes })
  for (const p of P) step(yes('3.2', p))
  const [decision] = [...step({ type: 'persisted', token: record!.token + 1 })]
  t.ok(decision)
  let end: CoordinatorEffect[] = []
  for (const p of P) end = step({ type: 'message', from: p, msg: { type: 'ack', txId: '3.2' } })
  t.same(step({ type: 'persisted', token: onlyPersist(end).token }), [])
})

t.test('a YES vote without versions still counts (the schema allows it); the versions are those the others reported', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes })
  step(yes('3.1', 'p1'))
  step({ type: 'message', from: 'p2', msg: { type: 'vote', txId: '3.1', yes: true } })
  const [decision] = persists(step(yes('3.1', 'p3')))
  t.match(decision, { kind: 'commit-decision', sync: true, ops: [{ value: { outcome: 'committed', versions: { a: 1 } } }] })
})

t.test('a reconnected participant gets its unacknowledged COMMITs a batch at a time, paced by a timer', async (t) => {
  const { step, connectAll } = setup({ maxResendsPerStep: 2, maxInFlight: 100 })
  connectAll()
  for (let i = 1; i <= 5; i++) {
    step({ type: 'request', reqId: i, writes: [{ key: `k${i}`, value: 'v' }] })
    const txId = `3.${i}`
    for (const p of P) {
      const decide = step(yes(txId, p))
      for (const d of persists(decide)) step({ type: 'persisted', token: d.token })
    }
    for (const p of ['p1', 'p3']) step({ type: 'message', from: p, msg: { type: 'ack', txId } })
  }
  step({ type: 'disconnected', participant: 'p2' })
  const first = step({ type: 'connected', participant: 'p2' })
  t.same(sends(first, 'commit').map((s) => ('txId' in s.msg ? s.msg.txId : '')), ['3.1', '3.2'], 'the first batch')
  t.same(timersSet(first), [{ type: 'setTimer', timer: { kind: 'resend', participant: 'p2', after: '3.3' }, afterMs: 10 }], 'the rest is paced')
  step({ type: 'message', from: 'p2', msg: { type: 'ack', txId: '3.1' } })
  const second = step({ type: 'timer', timer: { kind: 'resend', participant: 'p2', after: '3.3' } })
  t.same(sends(second, 'commit').map((s) => ('txId' in s.msg ? s.msg.txId : '')), ['3.4', '3.5'], 'the next batch starts at the mark')
  t.same(second.filter((e) => e.type === 'setTimer'), [], 'nothing left: no timer')
  const gone = step({ type: 'timer', timer: { kind: 'resend', participant: 'p2', after: '9.9' } })
  t.same(sends(gone, 'commit').map((s) => ('txId' in s.msg ? s.msg.txId : '')), ['3.2', '3.3'], 'a mark collected meanwhile: from the oldest again, acknowledged ones skipped')
  t.match(step({ type: 'disconnected', participant: 'p2' }), [{ type: 'cancelTimer', timer: { kind: 'resend', participant: 'p2' } }], 'a disconnect stops the pacing')
  t.same(sends(step({ type: 'timer', timer: { kind: 'resend', participant: 'p2', after: '3.3' } })), [], 'a stale pacing timer for a disconnected participant sends nothing')
})

t.test('retries waiting on one transaction are bounded: one more is told overloaded', async (t) => {
  const { step, connectAll } = setup({ maxWaitersPerTxn: 2 })
  connectAll()
  step({ type: 'request', reqId: 1, writes, clientId: 'c' })
  t.same(replies(step({ type: 'request', reqId: 2, writes, clientId: 'c' })), [], 'a second request with the id waits')
  t.match(replies(step({ type: 'request', reqId: 3, writes, clientId: 'c' })), [{ reqId: 3, body: { ok: false, error: 'overloaded', message: /2 requests already wait for transaction 3\.1/ } }])
})

t.test('a read answered in doubt says which transaction holds the key there (a status lookup by client id follows it)', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  t.same(sends(step({ type: 'read', reqId: 1, key: 'a' })).map((s) => s.to), ['p1'])
  t.same(readReplies(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 1, entry: null, inDoubt: true, heldBy: '1.7' } })), [{ type: 'readReply', reqId: 1, body: { ok: false, error: 'key_in_doubt', heldBy: '1.7' } }])
})

t.test('listings are routed as reads; an answer of the other kind is ignored', async (t) => {
  const { step, connectAll } = setup()
  connectAll()
  t.same(sends(step({ type: 'list', reqId: 1, prefix: 'a', after: '', limit: 5 })), [{ type: 'send', to: 'p1', msg: { type: 'list', reqId: 1, prefix: 'a', after: '', limit: 5 } }])
  t.match(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 1, entry: null } }), [{ type: 'log', level: 'warn', msg: 'a read answer to a list request; ignored' }])
  const page = { entries: [{ key: 'a1', value: 'x', version: 2 }], more: true }
  t.same(readReplies(step({ type: 'message', from: 'p1', msg: { type: 'listResult', reqId: 1, ...page } })), [{ type: 'readReply', reqId: 1, body: { ok: true, page } }])
  step({ type: 'list', reqId: 2, prefix: '', after: 'a1', limit: 5 })
  t.same(readReplies(step({ type: 'message', from: 'p2', msg: { type: 'listResult', reqId: 2, entries: [], more: true, inDoubt: true, heldBy: '1.9' } })), [{ type: 'readReply', reqId: 2, body: { ok: false, error: 'key_in_doubt', heldBy: '1.9' } }])
})

t.test('reads: routed round-robin to connected participants, answered from their reply, bounded in time and number', async (t) => {
  const { step, connectAll, m } = setup({ readTimeoutMs: 70, maxInFlight: 3 })
  t.same(step({ type: 'read', reqId: 1, key: 'a' }), [{ type: 'readReply', reqId: 1, body: { ok: false, error: 'no_replica' } }], 'nobody connected')
  connectAll()
  const first = step({ type: 'read', reqId: 2, key: 'a' })
  t.same(first, [{ type: 'send', to: 'p1', msg: { type: 'read', reqId: 2, key: 'a' } }, { type: 'setTimer', timer: { kind: 'read', reqId: 2 }, afterMs: 70 }])
  t.same(sends(step({ type: 'read', reqId: 3, key: 'a' })).map((s) => s.to), ['p2'], 'the next read goes to the next participant')
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 3, entry: null } }), [], 'an answer from a participant not asked is ignored')
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 2, entry: { value: 'x', version: 4 } } }), [{ type: 'cancelTimer', timer: { kind: 'read', reqId: 2 } }, { type: 'readReply', reqId: 2, body: { ok: true, entry: { value: 'x', version: 4 } } }])
  t.same(step({ type: 'message', from: 'p1', msg: { type: 'readResult', reqId: 2, entry: null } }), [], 'a second answer is ignored')
  t.same(readReplies(step({ type: 'message', from: 'p2', msg: { type: 'readResult', reqId: 3, entry: null, inDoubt: true } })), [{ type: 'readReply', reqId: 3, body: { ok: false, error: 'key_in_doubt' } }], 'the participant could not answer: in doubt')
  step({ type: 'read', reqId: 4, key: 'a' })
  t.match(step({ type: 'timer', timer: { kind: 'read', reqId: 4 } }), [{ type: 'readReply', reqId: 4, body: { ok: false, error: 'key_in_doubt', message: 'participant p3 did not answer the read in time' } }])
  t.same(step({ type: 'timer', timer: { kind: 'read', reqId: 4 } }), [], 'a stale read timer does nothing')
  for (const reqId of [5, 6, 7]) step({ type: 'read', reqId, key: 'a' })
  t.match(step({ type: 'read', reqId: 8, key: 'a' }), [{ type: 'readReply', reqId: 8, body: { ok: false, error: 'overloaded' } }], 'past maxInFlight waiting reads: overloaded')
  const lost = step({ type: 'disconnected', participant: 'p1' })
  t.match(lost.filter((e) => e.type === 'readReply'), [{ reqId: 5, body: { ok: false, error: 'key_in_doubt', message: 'participant p1 disconnected before answering the read' } }], 'a read on a lost connection is answered at once')
  t.equal(m.state.reads.size, 2)
})

t.test('status() and describe() give routes a read-only view', async (t) => {
  const { step, connectAll, m } = setup()
  connectAll()
  step({ type: 'request', reqId: 1, writes, clientId: 'c9' })
  t.same(m.status(), { epoch: 3, inFlight: 1, remembered: 1, connected: P })
  t.match(m.describe('3.1', 1000), { txId: '3.1', id: 'c9', state: 'preparing', votes: { p1: 'pending' } })
  t.match(m.describeClient('c9'), { txId: '3.1' })
  t.equal(m.describe('4.1', 1000), undefined)
  t.match(timersSet(step({ type: 'read', reqId: 9, key: 'a' })), [{ timer: { kind: 'read', reqId: 9 }, afterMs: 5000 }], 'reads wait 5 s by default')
})
