import t from 'tap'
import { ParticipantMachine, describeInDoubt } from '../../../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions, PreparedRecord, ResolvedRecord } from '../../../../shared/core/participant/types.ts'
import type { Entry, Write } from '../../../../shared/core/protocol/types.ts'

type E = ParticipantEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const options: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true }

function setup(recovered: { entries?: [string, Entry][]; prepared?: PreparedRecord[]; resolved?: ResolvedRecord[] } = {}, opts = options) {
  const m = new ParticipantMachine(opts)
  let now = 1000
  const step = (e: E, at?: number): ParticipantEffect[] => {
    if (at !== undefined) now = at
    return m.step({ ...e, now })
  }
  const start = step({ type: 'start', entries: recovered.entries ?? [], prepared: recovered.prepared ?? [], resolved: recovered.resolved ?? [] })
  step({ type: 'connected' })
  const msg = (msg: Extract<E, { type: 'message' }>['msg']) => step({ type: 'message', msg })
  const prepare = (txId: string, writes: Write[]) => msg({ type: 'prepare', txId, writes })
  /** PREPARE and complete its log write: returns the effects after the record is durable. */
  const prepared = (txId: string, writes: Write[]) => {
    const [p] = persists(prepare(txId, writes))
    return step({ type: 'persisted', token: p!.token })
  }
  return { m, step, msg, prepare, prepared, start }
}

const sent = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'send' }> => e.type === 'send').map((e) => e.msg)
const persists = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'persist' }> => e.type === 'persist')
/** The one persist a step emitted (a step that writes writes one batch): fails if it emitted none or several. */
function onlyPersist(effects: ParticipantEffect[]): Extract<ParticipantEffect, { type: 'persist' }> {
  const found = persists(effects)
  if (found.length !== 1) throw new Error(`expected exactly one persist effect, got ${found.length}: ${JSON.stringify(effects)}`)
  return found[0]!
}

t.test('PREPARE: the record is synced before the YES vote leaves, and the keys are locked at once', async (t) => {
  const { prepare, step, m } = setup()
  const e = prepare('1.1', [{ key: 'a', value: 'x' }])
  t.same(sent(e), [], 'no vote before the record is durable')
  t.match(persists(e), [{ kind: 'prepare', sync: true, ops: [{ type: 'put', key: 'prep/1.1', value: { txId: '1.1', versions: { a: 1 } } }] }])
  t.equal(m.state.locks.get('a'), '1.1')
  t.same(sent(prepare('1.1', [{ key: 'a', value: 'x' }])), [], 'a duplicate PREPARE while logging does nothing')
  const v = step({ type: 'persisted', token: onlyPersist(e).token })
  t.same(sent(v), [{ type: 'vote', txId: '1.1', yes: true, versions: { a: 1 } }])
  t.same(sent(prepare('1.1', [{ key: 'a', value: 'x' }])), [{ type: 'vote', txId: '1.1', yes: true, versions: { a: 1 } }], 'a duplicate PREPARE repeats the vote')
  t.same(step({ type: 'persisted', token: 999 }), [], 'an unknown token is ignored')
})

t.test('a key held by another prepared transaction: NO with conflict, no durable write', async (t) => {
  const { prepare } = setup()
  prepare('1.1', [{ key: 'a', value: 'x' }])
  const e = prepare('1.2', [{ key: 'b', value: 'y' }, { key: 'a', value: 'z' }])
  t.same(persists(e), [])
  t.match(sent(e), [{ type: 'vote', txId: '1.2', yes: false, reason: { code: 'conflict', key: 'a' } }])
})

t.test('preconditions: ifVersion and ifAbsent are checked against the committed version', async (t) => {
  const { prepare } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  t.match(sent(prepare('1.1', [{ key: 'a', value: 'x', ifVersion: 2 }])), [{ yes: false, reason: { code: 'precondition_failed', key: 'a', message: 'expected version 2, found 3' } }])
  t.match(sent(prepare('1.2', [{ key: 'a', value: 'x', ifAbsent: true }])), [{ yes: false, reason: { code: 'precondition_failed', key: 'a' } }])
  t.match(persists(prepare('1.3', [{ key: 'a', value: 'x', ifVersion: 3 }, { key: 'n', value: 'y', ifAbsent: true }])), [{ ops: [{ value: { versions: { a: 4, n: 1 } } }] }])
})

t.test('COMMIT applies writes, bumps versions and drops the PREPARED record in one synced batch, then ACKs', async (t) => {
  const { prepared, msg, step, m } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  prepared('1.1', [{ key: 'a', value: 'new' }, { key: 'b', value: 'bee' }])
  const c = msg({ type: 'commit', txId: '1.1' })
  const [apply] = persists(c)
  t.match(apply, {
    kind: 'apply',
    sync: true,
    ops: [
      { type: 'put', key: 'kv/a', value: { value: 'new', version: 4 } },
      { type: 'put', key: 'kv/b', value: { value: 'bee', version: 1 } },
      { type: 'del', key: 'prep/1.1' },
      { type: 'put', key: 'done/1.1', value: { outcome: 'committed' } },
    ],
  })
  t.same(sent(c), [], 'no ACK before the batch is durable')
  t.same(persists(msg({ type: 'commit', txId: '1.1' })), [], 'a duplicate COMMIT while applying does nothing')
  t.same(sent(step({ type: 'persisted', token: apply!.token })), [{ type: 'ack', txId: '1.1' }])
  t.same(m.state.kv.get('a'), { value: 'new', version: 4 })
  t.equal(m.state.locks.size, 0)
  t.same(sent(msg({ type: 'commit', txId: '1.1' })), [{ type: 'ack', txId: '1.1' }], 'a COMMIT after applying is re-ACKed')
  t.same(sent(msg({ type: 'commit', txId: '7.7' })), [{ type: 'ack', txId: '7.7' }], 'a COMMIT for a forgotten transaction is re-ACKed')
  t.same(sent(msg({ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'new' }] })), [], 'a PREPARE replayed after commit is not applied twice')
  t.match(msg({ type: 'abort', txId: '1.1' }), [{ type: 'log', level: 'error' }], 'ABORT after COMMIT is refused loudly')
})

t.test('a committed transaction still writing its apply hands its lock on: the next PREPARE sees its version', async (t) => {
  const { prepared, prepare, msg, step, m } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  prepared('1.1', [{ key: 'a', value: 'x' }])
  const [apply] = persists(msg({ type: 'commit', txId: '1.1' }))
  // Told "committed", the client writes the same key again before the apply is durable.
  t.match(sent(prepare('1.2', [{ key: 'a', value: 'y', ifVersion: 4 }])), [], 'no conflict with a committed holder')
  t.equal(m.state.locks.get('a'), '1.2')
  t.same(m.state.prepared.get('1.2')?.versions, new Map([['a', 5]]))
  t.same(m.state.prepared.get('1.2')?.handedFrom, new Map([['a', '1.1']]))
  t.match(sent(prepare('1.3', [{ key: 'a', value: 'z' }])), [{ yes: false, reason: { code: 'conflict', key: 'a' } }], 'a prepared (not committed) holder still conflicts')
  step({ type: 'persisted', token: apply!.token })
  t.same(m.state.kv.get('a'), { value: 'x', version: 4 })
  t.equal(m.state.locks.get('a'), '1.2', 'the finished apply leaves the lock with its new holder')
  const [record] = persists(msg({ type: 'abort', txId: '1.2' }))
  t.equal(record, undefined, 'aborted while logging: nothing to write yet')
})

t.test('a delete still writing its apply hands its lock on as absent: the next write counts on from the floor it raised, as after the apply', async (t) => {
  // The swarm (Paxos Commit, seed 3758) found replicas disagreeing: one that had applied the delete gave the
  // re-created key floor + 1, one that saw the apply still being written gave the deleted version + 1.
  const versionsFor = (whileApplying: boolean) => {
    const { prepared, prepare, msg, step, m } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
    prepared('1.1', [{ key: 'a', delete: true }])
    const [apply] = persists(msg({ type: 'commit', txId: '1.1' }))
    if (!whileApplying) step({ type: 'persisted', token: apply!.token })
    t.match(sent(prepare('1.2', [{ key: 'a', value: 'again', ifAbsent: true }])), [], `${whileApplying ? 'while' : 'after'} the delete is written: the key is absent`)
    return { versions: m.state.prepared.get('1.2')?.versions, floors: m.state.prepared.get('1.2')?.floors }
  }
  const after = versionsFor(false)
  t.same(versionsFor(true), after, 'the same versions and floors either way')
  t.same(after.versions, new Map([['a', 5]]), 'deleted at 4, the floor is 4: the new life starts at 5')
})

t.test('a handed-on lock goes back to the committed holder if the new one aborts first', async (t) => {
  const { prepared, prepare, msg, step, m } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  prepared('1.1', [{ key: 'a', value: 'x' }])
  const [apply] = persists(msg({ type: 'commit', txId: '1.1' }))
  const [record] = persists(prepare('1.2', [{ key: 'a', value: 'y' }, { key: 'b', value: 'y' }]))
  msg({ type: 'abort', txId: '1.2' })
  const [abort] = persists(step({ type: 'persisted', token: record!.token }))
  step({ type: 'persisted', token: abort!.token })
  t.equal(m.state.locks.get('a'), '1.1', 'the lock is back with the apply still being written')
  t.equal(m.state.locks.has('b'), false, 'a key that was free is free again')
  t.match(persists(prepare('1.3', [{ key: 'a', value: 'z', ifVersion: 4 }])), [{ ops: [{ value: { versions: { a: 5 } } }] }], 'the next PREPARE still sees version 4, not the stale 3')
  step({ type: 'persisted', token: apply!.token })
  t.same(m.state.kv.get('a'), { value: 'x', version: 4 })
  t.equal(m.state.locks.get('a'), '1.3')
})

t.test('ABORT drops the PREPARED record and the locks; late PREPAREs are refused', async (t) => {
  const { prepared, msg, step, m } = setup()
  prepared('1.1', [{ key: 'a', value: 'x' }])
  const a = msg({ type: 'abort', txId: '1.1' })
  t.match(persists(a), [{ kind: 'abort', sync: false, ops: [{ type: 'del', key: 'prep/1.1' }, { type: 'put', key: 'done/1.1' }] }])
  t.same(msg({ type: 'abort', txId: '1.1' }), [], 'a duplicate ABORT while aborting does nothing')
  step({ type: 'persisted', token: onlyPersist(a).token })
  t.equal(m.state.locks.size, 0)
  t.equal(m.state.prepared.size, 0)
  t.match(sent(msg({ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x' }] })), [{ yes: false, reason: { code: 'already_resolved' } }])
  t.same(msg({ type: 'abort', txId: '2.1' }), [], 'ABORT of an unknown transaction is remembered')
  t.match(sent(msg({ type: 'prepare', txId: '2.1', writes: [{ key: 'q', value: 'x' }] })), [{ yes: false }], 'so its late PREPARE is refused')
  t.match(msg({ type: 'commit', txId: '2.1' }), [{ type: 'log', level: 'error' }], 'COMMIT after ABORT is refused loudly')
})

t.test('ABORT while the PREPARED record is being written: abort once it is durable, never vote', async (t) => {
  const { prepare, msg, step, m } = setup()
  const [p] = persists(prepare('1.1', [{ key: 'a', value: 'x' }]))
  t.same(msg({ type: 'abort', txId: '1.1' }), [])
  t.match(msg({ type: 'commit', txId: '1.1' }), [{ type: 'log', level: 'error' }], 'COMMIT before our vote cannot be right')
  const e = step({ type: 'persisted', token: p!.token })
  t.same(sent(e), [])
  t.match(persists(e), [{ kind: 'abort' }])
  step({ type: 'persisted', token: onlyPersist(e).token })
  t.equal(m.state.locks.size, 0)
})

t.test('reads: a free key answers at once; a held key waits for the outcome, bounded by readWaitMs', async (t) => {
  const { prepared, msg, step } = setup({ entries: [['a', { value: 'v1', version: 1 }]] })
  t.same(sent(msg({ type: 'read', reqId: 1, key: 'a' })), [{ type: 'readResult', reqId: 1, entry: { value: 'v1', version: 1 } }])
  t.same(sent(msg({ type: 'read', reqId: 2, key: 'zz' })), [{ type: 'readResult', reqId: 2, entry: null }])
  prepared('1.1', [{ key: 'a', value: 'v2' }])
  const wait = msg({ type: 'read', reqId: 3, key: 'a' })
  t.same(wait, [{ type: 'setTimer', timer: { kind: 'read', reqId: 3, from: 'coordinator' }, afterMs: 50 }])
  msg({ type: 'read', reqId: 4, key: 'a' })
  t.same(sent(step({ type: 'timer', timer: { kind: 'read', reqId: 4, from: 'coordinator' } })), [{ type: 'readResult', reqId: 4, entry: null, inDoubt: true, heldBy: '1.1' }], 'a read past its bound answers in doubt, naming the transaction that holds the key')
  t.same(step({ type: 'timer', timer: { kind: 'read', reqId: 4, from: 'coordinator' } }), [], 'a stale read timer does nothing')
  const [apply] = persists(msg({ type: 'commit', txId: '1.1' }))
  const done = step({ type: 'persisted', token: apply!.token })
  t.same(sent(done), [{ type: 'readResult', reqId: 3, entry: { value: 'v2', version: 2 } }, { type: 'ack', txId: '1.1' }], 'the waiting read sees the committed value')
  t.match(done, [{ type: 'cancelTimer', timer: { kind: 'read', reqId: 3, from: 'coordinator' } }])
})

t.test('restart: PREPARED records come back in doubt, keep their locks, and are queried when the coordinator connects', async (t) => {
  const record: PreparedRecord = { txId: '1.5', writes: [{ key: 'a', value: 'x' }], versions: { a: 1 }, preparedAt: 500 }
  const m = new ParticipantMachine(options)
  const start = m.step({ type: 'start', now: 1000, entries: [], prepared: [record], resolved: [{ txId: '1.4', outcome: 'committed', at: 900 }] })
  t.match(start, [{ type: 'log', level: 'warn', txId: '1.5' }, { type: 'setTimer', timer: { kind: 'sweep' } }])
  t.equal(m.state.locks.get('a'), '1.5')
  t.match(describeInDoubt(m.state, 1500), [{ txId: '1.5', ageMs: 1000, keys: ['a'], phase: 'prepared' }])
  t.match(sent(m.step({ type: 'message', now: 1000, msg: { type: 'prepare', txId: '1.6', writes: [{ key: 'a', value: 'y' }] } })), [{ yes: false, reason: { code: 'conflict' } }])
  const q = m.step({ type: 'connected', now: 1001 })
  t.same(sent(q), [{ type: 'query', txId: '1.5' }])
  m.step({ type: 'disconnected', now: 1002 })
  t.same(sent(m.step({ type: 'timer', now: 2000, timer: { kind: 'sweep' } })), [], 'no queries while disconnected')
  m.step({ type: 'connected', now: 2001 })
  t.same(sent(m.step({ type: 'timer', now: 2100, timer: { kind: 'sweep' } })), [], 'queried recently')
  m.step({ type: 'message', now: 2200, msg: { type: 'prepare', txId: '1.7', writes: [{ key: 'other', value: 'y' }] } })
  const sweep = m.step({ type: 'timer', now: 2300, timer: { kind: 'sweep' } })
  t.same(sent(sweep), [{ type: 'query', txId: '1.5' }], 'queried again while in doubt')
  t.match(sweep, [{ type: 'log', level: 'warn', msg: 'transactions in doubt', inDoubt: 1, oldestAgeMs: 1800, coordinatorsConnected: ['coordinator'] }], 'blocking is reported, not hidden')
})

t.test('garbage collection forgets resolved ids past retention or beyond the cap', async (t) => {
  const resolved: ResolvedRecord[] = [
    { txId: '1.1', outcome: 'committed', at: 100 },
    { txId: '1.2', outcome: 'aborted', at: 1900 },
    { txId: '1.3', outcome: 'committed', at: 1950 },
  ]
  const { step, m } = setup({ resolved }, { ...options, maxRemembered: 1 })
  const e = step({ type: 'timer', timer: { kind: 'sweep' } }, 2000)
  t.match(persists(e), [{ kind: 'gc', sync: false, ops: [{ type: 'del', key: 'done/1.1' }, { type: 'del', key: 'done/1.2' }] }])
  t.same([...m.state.resolved.keys()], ['1.3'])
  t.same(persists(step({ type: 'timer', timer: { kind: 'sweep' } }, 2001)), [])
})

t.test('reads on several held keys time out independently; a finished gc batch needs nothing', async (t) => {
  const { prepared, msg, step } = setup()
  prepared('1.1', [{ key: 'a', value: 'x' }, { key: 'b', value: 'y' }])
  msg({ type: 'read', reqId: 1, key: 'a' })
  msg({ type: 'read', reqId: 2, key: 'b' })
  t.same(sent(step({ type: 'timer', timer: { kind: 'read', reqId: 2, from: 'coordinator' } })), [{ type: 'readResult', reqId: 2, entry: null, inDoubt: true, heldBy: '1.1' }])
  t.same(sent(step({ type: 'timer', timer: { kind: 'read', reqId: 1, from: 'coordinator' } })), [{ type: 'readResult', reqId: 1, entry: null, inDoubt: true, heldBy: '1.1' }])
  const gc = persists(step({ type: 'timer', timer: { kind: 'sweep' } }, 5000))
  t.same(gc, [], 'nothing resolved yet, nothing to collect')
  const [abort] = persists(msg({ type: 'abort', txId: '1.1' }))
  step({ type: 'persisted', token: abort!.token })
  const [collect] = persists(step({ type: 'timer', timer: { kind: 'sweep' } }, 9000))
  t.match(collect, { kind: 'gc' })
  t.same(step({ type: 'persisted', token: collect!.token }), [])
})

t.test('reads waiting on a connection are dropped with it: never answered on the next connection', async (t) => {
  const { prepared, msg, step } = setup()
  prepared('1.1', [{ key: 'a', value: 'x' }])
  t.same(msg({ type: 'read', reqId: 1, key: 'a' }), [{ type: 'setTimer', timer: { kind: 'read', reqId: 1, from: 'coordinator' }, afterMs: 50 }])
  t.same(step({ type: 'disconnected' }), [{ type: 'cancelTimer', timer: { kind: 'read', reqId: 1, from: 'coordinator' } }], 'the waiting read goes with its connection')
  step({ type: 'connected' })
  const abort = onlyPersist(msg({ type: 'abort', txId: '1.1' }))
  t.same(sent(step({ type: 'persisted', token: abort.token })), [], 'the lock goes, and nobody is told about the old read')
})

t.test('a read waits while anyone holds the key: a committed apply finishing does not answer it while a newer prepared holds the key', async (t) => {
  const { prepared, msg, step, m } = setup({ entries: [['a', { value: 'v1', version: 1 }]] })
  prepared('1.1', [{ key: 'a', value: 'v2' }])
  const [apply1] = persists(msg({ type: 'commit', txId: '1.1' }))
  const [prep2] = persists(msg({ type: 'prepare', txId: '1.2', writes: [{ key: 'a', value: 'v3' }] })) // takes the lock from the applying 1.1
  step({ type: 'persisted', token: prep2!.token })
  t.same(msg({ type: 'read', reqId: 9, key: 'a' }), [{ type: 'setTimer', timer: { kind: 'read', reqId: 9, from: 'coordinator' }, afterMs: 50 }], 'the read waits: 1.2 holds a')
  t.same(sent(step({ type: 'persisted', token: apply1!.token })), [{ type: 'ack', txId: '1.1' }], '1.1 applied: the read is not answered, 1.2 still holds a (its client may already be told committed)')
  const [apply2] = persists(msg({ type: 'commit', txId: '1.2' }))
  const done = step({ type: 'persisted', token: apply2!.token })
  t.same(sent(done), [{ type: 'readResult', reqId: 9, entry: { value: 'v3', version: 3 } }, { type: 'ack', txId: '1.2' }], 'answered once nobody holds a, with the newest value')
  t.equal(m.state.locks.size, 0)
})

t.test('with a handed-on lock, a read waits for the committed holder it goes back to', async (t) => {
  const { prepared, msg, step } = setup({ entries: [['a', { value: 'v1', version: 1 }]] })
  prepared('1.1', [{ key: 'a', value: 'v2' }])
  const [apply1] = persists(msg({ type: 'commit', txId: '1.1' }))
  const [prep2] = persists(msg({ type: 'prepare', txId: '1.2', writes: [{ key: 'a', value: 'v3' }] }))
  step({ type: 'persisted', token: prep2!.token })
  msg({ type: 'read', reqId: 9, key: 'a' })
  const [abort2] = persists(msg({ type: 'abort', txId: '1.2' }))
  t.same(sent(step({ type: 'persisted', token: abort2!.token })), [], '1.2 aborted: a goes back to the applying 1.1, the read still waits (it must see v2)')
  t.same(sent(step({ type: 'persisted', token: apply1!.token })), [{ type: 'readResult', reqId: 9, entry: { value: 'v2', version: 2 } }, { type: 'ack', txId: '1.1' }])
})

t.test('waiting reads are bounded: past the bound a read of a held key is answered in doubt at once', async (t) => {
  const { prepared, msg, step, m } = setup({}, { ...options, maxWaitingReads: 2 })
  prepared('1.1', [{ key: 'a', value: 'x' }])
  msg({ type: 'read', reqId: 1, key: 'a' })
  msg({ type: 'read', reqId: 2, key: 'a' })
  t.same(sent(msg({ type: 'read', reqId: 3, key: 'a' })), [{ type: 'readResult', reqId: 3, entry: null, inDoubt: true, heldBy: '1.1' }], 'the third is answered at once')
  t.equal(m.state.waitingReads, 2)
  step({ type: 'timer', timer: { kind: 'read', reqId: 1, from: 'coordinator' } })
  t.equal(m.state.waitingReads, 1, 'a read that timed out leaves the count')
  msg({ type: 'read', reqId: 4, key: 'a' })
  const [abort] = persists(msg({ type: 'abort', txId: '1.1' }))
  t.same(sent(step({ type: 'persisted', token: abort!.token })).map((r) => (r as { reqId: number }).reqId), [2, 4])
  t.equal(m.state.waitingReads, 0)
})

t.test('status() and inDoubt() give routes a read-only view', async (t) => {
  const { prepared, m } = setup({ entries: [['a', { value: 'x', version: 1 }]] })
  prepared('1.1', [{ key: 'b', value: 'y' }])
  // One lock: the key (the version floor of its bucket, also held by a create, is not counted).
  t.same(m.status(), { started: true, keys: 1, prepared: ['1.1'], locks: 1, remembered: 0, readsWaiting: 0 })
  t.equal(m.state.locks.size, 2)
  t.same(m.inDoubt(1500), [{ txId: '1.1', ageMs: 500, keys: ['b'], phase: 'prepared' }])
})

t.test('a delete gets the next version, removes the entry in the apply batch and raises its bucket floor to that version', async (t) => {
  const { prepared, msg, step, m } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  const vote = sent(prepared('1.1', [{ key: 'a', delete: true, ifVersion: 3 }]))
  t.same(vote, [{ type: 'vote', txId: '1.1', yes: true, versions: { a: 4 } }], 'version 4 of the key is its absence')
  const floor = [...m.state.prepared.get('1.1')!.floors!.keys()][0]!
  t.equal(m.state.locks.get(floor), '1.1', 'the floor is locked with the key')
  const apply = onlyPersist(msg({ type: 'commit', txId: '1.1' }))
  t.match(apply.ops, [{ type: 'del', key: 'kv/a' }, { type: 'put', key: `kv/${floor}`, value: { value: '', version: 4 } }])
  step({ type: 'persisted', token: apply.token })
  t.equal(m.state.kv.has('a'), false)
  t.equal(m.state.locks.size, 0, 'key and floor locks are gone')
  t.match(persists(msg({ type: 'prepare', txId: '1.2', writes: [{ key: 'a', value: 'again', ifAbsent: true }] })), [{ ops: [{ value: { versions: { a: 5 } } }] }], 'ifAbsent holds after a delete, and the next life starts above the last')
})

t.test('preconditions on a deleted key: ifVersion 0 holds, its old version does not; a delete of an absent key still takes a version', async (t) => {
  const { prepare, prepared, msg, step } = setup({ entries: [['a', { value: 'old', version: 3 }]] })
  prepared('1.1', [{ key: 'a', delete: true }])
  step({ type: 'persisted', token: onlyPersist(msg({ type: 'commit', txId: '1.1' })).token })
  t.match(sent(prepare('1.2', [{ key: 'a', value: 'x', ifVersion: 4 }])), [{ yes: false, reason: { code: 'precondition_failed', key: 'a', message: 'expected version 4, found 0' } }])
  t.match(sent(prepare('1.3', [{ key: 'a', delete: true, ifVersion: 3 }])), [{ yes: false, reason: { code: 'precondition_failed' } }], 'a delete with ifVersion is refused on an absent key')
  t.same(sent(prepared('1.4', [{ key: 'a', delete: true, ifVersion: 0 }])), [{ type: 'vote', txId: '1.4', yes: true, versions: { a: 5 } }], 'deleting an absent key: the floor + 1')
  step({ type: 'persisted', token: onlyPersist(msg({ type: 'commit', txId: '1.4' })).token })
  t.same(sent(prepared('1.5', [{ key: 'a', value: 'back' }])), [{ type: 'vote', txId: '1.5', yes: true, versions: { a: 6 } }])
})

t.test('a floor is locked like a key: a create in the bucket conflicts with a prepared delete there; overwrites never do', async (t) => {
  // Two keys in the same bucket of FLOOR_BUCKETS: found by search, so that the test does not depend on the hash's values.
  const { floorKey } = await import('../../../../shared/core/participant/version-floor.ts')
  const target = floorKey('k0')
  let other = 1
  while (floorKey(`k${other}`) !== target) other++
  const twin = `k${other}`
  const { prepare, prepared, msg, step, m } = setup({ entries: [['k0', { value: 'x', version: 7 }], ['live', { value: 'y', version: 2 }]] })
  prepared('1.1', [{ key: 'k0', delete: true }])
  t.match(sent(prepare('1.2', [{ key: twin, value: 'new' }])), [{ yes: false, reason: { code: 'conflict', key: twin, message: /prepared transaction 1\.1 creates or deletes another key/ } }])
  t.same(sent(prepared('1.3', [{ key: 'live', value: 'z' }])), [{ type: 'vote', txId: '1.3', yes: true, versions: { live: 3 } }])
  const apply = onlyPersist(msg({ type: 'commit', txId: '1.1' }))
  // While the delete's apply is being written, a create in its bucket already sees the raised floor.
  t.same(sent(prepared('1.4', [{ key: twin, value: 'new' }])), [{ type: 'vote', txId: '1.4', yes: true, versions: { [twin]: 9 } }])
  t.same(m.state.prepared.get('1.4')!.handedFrom, new Map([[target, '1.1']]))
  step({ type: 'persisted', token: apply.token })
  t.equal(m.state.locks.get(target), '1.4', 'the finished delete leaves the floor with the create')
  t.match(sent(prepare('1.5', [{ key: 'k0', value: 'back' }])), [{ yes: false, reason: { code: 'conflict', key: 'k0' } }], 'two creates in one bucket at once: the later one conflicts')
  t.equal(m.state.prepared.get('1.5'), undefined)
})

t.test('restart: a prepared delete comes back with its floor locked and raises it when it commits', async (t) => {
  const { floorKey } = await import('../../../../shared/core/participant/version-floor.ts')
  const floor = floorKey('a')
  const { m, msg, step } = setup({
    entries: [['a', { value: 'old', version: 5 }], [floor, { value: '', version: 2 }]],
    prepared: [{ txId: '1.1', writes: [{ key: 'a', delete: true }], versions: { a: 6 }, preparedAt: 900, floors: { [floor]: 6 } }],
  })
  t.equal(m.state.locks.get(floor), '1.1')
  step({ type: 'persisted', token: onlyPersist(msg({ type: 'commit', txId: '1.1' })).token })
  t.same(m.state.kv.get(floor), { value: '', version: 6 })
  t.equal(m.state.kv.has('a'), false)
})

t.test('listings: a page of committed keys at once; a held key in the way is waited for, then the next one, within one deadline', async (t) => {
  const { prepared, msg, step, m } = setup({ entries: [['a', { value: 'va', version: 1 }], ['b', { value: 'vb', version: 1 }], ['c', { value: 'vc', version: 1 }]] })
  const list = (reqId: number, after = '', limit = 10) => msg({ type: 'list', reqId, prefix: '', after, limit })
  t.same(sent(list(1, '', 2)), [{ type: 'listResult', reqId: 1, entries: [{ key: 'a', value: 'va', version: 1 }, { key: 'b', value: 'vb', version: 1 }], more: true }])
  prepared('1.1', [{ key: 'b', value: 'vb2' }])
  prepared('1.2', [{ key: 'bb', value: 'new' }])
  t.same(sent(list(2)), [{ type: 'listResult', reqId: 2, entries: [{ key: 'a', value: 'va', version: 1 }], more: true }], 'the page stops before the held key')
  t.same(list(3, 'a'), [{ type: 'setTimer', timer: { kind: 'read', reqId: 3, from: 'coordinator' }, afterMs: 50 }], 'and waits when it comes first')
  const [apply] = persists(msg({ type: 'commit', txId: '1.1' }))
  const first = step({ type: 'persisted', token: apply!.token })
  t.same(sent(first), [{ type: 'listResult', reqId: 3, entries: [{ key: 'b', value: 'vb2', version: 2 }], more: true }, { type: 'ack', txId: '1.1' }], 'b is free: the page holds it, and stops before bb (being created)')
  t.same(list(5, 'b'), [{ type: 'setTimer', timer: { kind: 'read', reqId: 5, from: 'coordinator' }, afterMs: 50 }])
  const [abort] = persists(msg({ type: 'abort', txId: '1.2' }))
  const done = step({ type: 'persisted', token: abort!.token })
  t.same(sent(done), [{ type: 'listResult', reqId: 5, entries: [{ key: 'c', value: 'vc', version: 1 }], more: false }], 'no trace of the aborted create')
  t.match(done, [{ type: 'cancelTimer', timer: { kind: 'read', reqId: 5 } }])
  // A listing waiting on one key that is handed to the next held key of its page keeps its deadline.
  prepared('1.4', [{ key: 'c', value: 'vc2' }])
  prepared('1.5', [{ key: 'd', value: 'vd' }])
  list(6, 'b')
  const [apply4] = persists(msg({ type: 'commit', txId: '1.4' }))
  t.same(sent(step({ type: 'persisted', token: apply4!.token })), [{ type: 'listResult', reqId: 6, entries: [{ key: 'c', value: 'vc2', version: 2 }], more: true }, { type: 'ack', txId: '1.4' }])
  list(7, 'c')
  t.same(m.state.reads.get('d')?.map((r) => r.reqId), [7])
  const [abort5] = persists(msg({ type: 'abort', txId: '1.5' }))
  t.same(sent(step({ type: 'persisted', token: abort5!.token })), [{ type: 'listResult', reqId: 7, entries: [], more: false }])
  // Released, the key it waited on leaves another held key first in its page: it waits for that one, on the same timer.
  prepared('1.6', [{ key: 'ca', value: 'x' }])
  prepared('1.7', [{ key: 'cb', value: 'y' }])
  list(8, 'c')
  const [abort6] = persists(msg({ type: 'abort', txId: '1.6' }))
  const moved = step({ type: 'persisted', token: abort6!.token })
  t.same(sent(moved), [])
  t.notMatch(moved, [{ type: 'cancelTimer' }], 'its deadline stands')
  t.same(m.state.reads.get('cb')?.map((r) => r.reqId), [8])
  t.equal(m.state.waitingReads, 1)
  t.same(sent(step({ type: 'timer', timer: { kind: 'read', reqId: 8, from: 'coordinator' } })), [{ type: 'listResult', reqId: 8, entries: [], more: true, inDoubt: true, heldBy: '1.7' }])
  prepared('1.3', [{ key: 'a', value: 'x' }])
  list(4)
  t.same(sent(step({ type: 'timer', timer: { kind: 'read', reqId: 4, from: 'coordinator' } })), [{ type: 'listResult', reqId: 4, entries: [], more: true, inDoubt: true, heldBy: '1.3' }], 'past its deadline: in doubt, naming the holder')
  t.equal(m.state.waitingReads, 0)
})
