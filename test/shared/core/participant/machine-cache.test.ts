import t from 'tap'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import { entryBytes, MAX_PARKED } from '../../../../shared/core/participant/replica-cache.ts'
import { floorKey } from '../../../../shared/core/participant/version-floor.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions, PreparedRecord } from '../../../../shared/core/participant/types.ts'
import type { Entry, Write } from '../../../../shared/core/protocol/types.ts'

// A replica larger than memory (replica-cache.ts): the machine asks for keys, and the test plays the store.
type E = ParticipantEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
type Load = Extract<ParticipantEffect, { type: 'load' }>
type Scan = Extract<ParticipantEffect, { type: 'scan' }>
const options: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true, cacheBytes: 1 << 20 }
const entry = (value: string, version: number): Entry => ({ value, version })

function setup(recovered: { entries?: [string, Entry][]; prepared?: PreparedRecord[]; complete?: boolean } = {}, cacheBytes = 1 << 20) {
  const m = new ParticipantMachine({ ...options, cacheBytes })
  const step = (e: E): ParticipantEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', entries: recovered.entries ?? [], prepared: recovered.prepared ?? [], resolved: [], ...(recovered.complete === undefined ? {} : { complete: recovered.complete }) })
  step({ type: 'connected' })
  const msg = (msg: Extract<E, { type: 'message' }>['msg']) => step({ type: 'message', msg })
  const prepare = (txId: string, writes: Write[]) => msg({ type: 'prepare', txId, writes })
  const read = (reqId: number, key: string) => msg({ type: 'read', reqId, key })
  const list = (reqId: number, prefix = '', after = '', limit = 10) => msg({ type: 'list', reqId, prefix, after, limit })
  const loaded = (load: Load, entries: Record<string, Entry | null>) => step({ type: 'loaded', id: load.id, entries: load.keys.map((k) => [k, entries[k] ?? null]) })
  const persisted = (effects: ParticipantEffect[]) => step({ type: 'persisted', token: persists(effects)[0]!.token })
  return { m, step, prepare, read, list, loaded, persisted }
}

const sent = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'send' }> => e.type === 'send').map((e) => e.msg)
const persists = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'persist' }> => e.type === 'persist')
const loads = (effects: ParticipantEffect[]): Load[] => effects.filter((e): e is Load => e.type === 'load')
const scans = (effects: ParticipantEffect[]): Scan[] => effects.filter((e): e is Scan => e.type === 'scan')
const only = <T>(found: T[]): T => {
  if (found.length !== 1) throw new Error(`expected one, got ${found.length}`)
  return found[0]!
}

t.test('a PREPARE waits for the keys it touches to be loaded, then runs as if they had been in memory', async (t) => {
  const { prepare, loaded, persisted, m } = setup()
  const e = prepare('1.1', [{ key: 'a', value: 'x', ifVersion: 3 }, { key: 'new', value: 'y' }, { key: 'a', value: 'x' }])
  t.same(persists(e), [], 'nothing is written, no vote, no lock, before the keys are known')
  t.same(sent(e), [])
  t.equal(m.state.locks.size, 0)
  const load = only(loads(e))
  t.same(load.keys, ['a', 'new'], 'each key once')
  const p = loaded(load, { a: entry('old', 3) })
  t.match(persists(p), [{ kind: 'prepare', ops: [{ value: { versions: { a: 4, new: 1 } } }] }], 'the committed version came from the store; an absent key takes its floor + 1')
  t.match(sent(persisted(p)), [{ type: 'vote', yes: true }])
  t.match(m.status().cache, { loads: 0, absent: 1 })
  t.equal(m.status().keys, 1, 'a is cached; new is held (known absent until it commits)')
})

t.test('a PREPARE meeting a held key votes conflict without loading it', async (t) => {
  const record: PreparedRecord = { txId: '1.1', writes: [{ key: 'a', value: 'x' }], versions: { a: 9 }, preparedAt: 0 }
  const { prepare } = setup({ prepared: [record] })
  const e = prepare('1.2', [{ key: 'a', value: 'z' }, { key: 'b', value: 'y' }])
  const load = only(loads(e))
  t.same(load.keys, ['b'], 'the held key is not asked for')
})

t.test('a load that arrives after an apply of the same key never brings the old value back', async (t) => {
  // A tiny budget: every key that may go is evicted after each step.
  const { prepare, read, loaded, persisted, step, m } = setup({}, 1)
  const staleLoad = only(loads(read(1, 'k')))
  const txLoad = only(loads(prepare('1.1', [{ key: 'k', value: 'new' }])))
  const p = loaded(txLoad, { k: entry('old', 1) })
  persisted(p)
  const apply = step({ type: 'message', msg: { type: 'commit', txId: '1.1' } })
  persisted(apply)
  t.equal(m.state.locks.size, 0, 'the apply is written and its lock gone')
  t.same(m.state.kv.get('k'), entry('new', 2), 'the key is pinned by the load in flight, so it stays cached')
  const answer = loaded(staleLoad, { k: entry('old', 1) })
  t.match(sent(answer), [{ type: 'readResult', reqId: 1, entry: { value: 'new', version: 2 } }])
  t.notOk(m.state.kv.has('k'), 'unpinned, it is evicted once over the budget')
})

t.test('a read waiting on a held key that was not cached loads it once the holder aborts', async (t) => {
  const { prepare, read, loaded, persisted, step } = setup()
  const p = loaded(only(loads(prepare('1.1', [{ key: 'k', value: 'v' }]))), { k: entry('cur', 4) })
  persisted(p)
  const waiting = read(1, 'k')
  t.same(loads(waiting), [], 'held: the read waits for the outcome')
  t.match(waiting, [{ type: 'setTimer', timer: { kind: 'read' } }])
  const abort = step({ type: 'message', msg: { type: 'abort', txId: '1.1' } })
  t.match(sent(persisted(abort)), [{ type: 'readResult', reqId: 1, entry: { value: 'cur', version: 4 } }], 'the key was cached by the PREPARE: answered at once')

  const { read: read2, loaded: loaded2, persisted: persisted2, step: step2 } = setup({ prepared: [{ txId: '1.1', writes: [{ key: 'k', value: 'x' }], versions: { k: 5 }, preparedAt: 0 }] })
  read2(1, 'k')
  const released = persisted2(step2({ type: 'message', msg: { type: 'abort', txId: '1.1' } }))
  t.match(released, [{ type: 'cancelTimer' }])
  t.match(sent(loaded2(only(loads(released)), { k: entry('cur', 4) })), [{ type: 'readResult', reqId: 1, entry: { value: 'cur', version: 4 } }], 'restored after a restart, the key was never cached: loaded now')
  t.match(sent(step2({ type: 'message', msg: { type: 'read', reqId: 2, key: 'k' } })), [{ type: 'readResult', reqId: 2, entry: { value: 'cur', version: 4 } }], 'then cached')
})

t.test('a delete: the key is known absent, and its floor, always in memory, gives a re-create its version', async (t) => {
  const { prepare, read, loaded, persisted, step, m } = setup({ entries: [[floorKey('a'), entry('', 2)]] })
  const p = loaded(only(loads(prepare('1.1', [{ key: 'a', delete: true }]))), { a: entry('x', 7) })
  persisted(p)
  persisted(step({ type: 'message', msg: { type: 'commit', txId: '1.1' } }))
  t.match(sent(read(1, 'a')), [{ type: 'readResult', entry: null }], 'answered from the cache: absent')
  t.match(m.status().cache, { absent: 1 })
  t.match(persists(prepare('1.2', [{ key: 'a', value: 'again' }])), [{ ops: [{ value: { versions: { a: 9 } } }] }])
})

t.test('a listing reads its page from the store; what commits while it is read wins', async (t) => {
  const { list, prepare, loaded, persisted, step, m } = setup()
  const scan = only(scans(list(1, 'b', 'b0', 3)))
  t.match(scan, { prefix: 'b', start: { key: 'b0', inclusive: false }, limit: 3 })
  t.match(m.status().cache, { scans: 1 })
  // b2 is created and b1 deleted while the page is being read.
  persisted(loaded(only(loads(prepare('1.1', [{ key: 'b2', value: 'fresh' }, { key: 'b1', delete: true }]))), { b1: entry('one', 1) }))
  persisted(step({ type: 'message', msg: { type: 'commit', txId: '1.1' } }))
  const page = step({ type: 'scanned', id: scan.id, entries: [['b1', entry('one', 1)], ['b3', entry('three', 1)]], more: false })
  t.match(sent(page), [{ type: 'listResult', reqId: 1, entries: [{ key: 'b2', value: 'fresh' }, { key: 'b3', value: 'three' }], more: false }])
})

t.test('a listing whose keys were all deleted meanwhile reads on; one meeting a held key first waits, then reads again', async (t) => {
  const { list, prepare, loaded, persisted, step } = setup()
  const scan = only(scans(list(1, '', '', 1)))
  persisted(loaded(only(loads(prepare('1.1', [{ key: 'a', delete: true }]))), { a: entry('x', 1) }))
  persisted(step({ type: 'message', msg: { type: 'commit', txId: '1.1' } }))
  const again = only(scans(step({ type: 'scanned', id: scan.id, entries: [['a', entry('x', 1)]], more: true })))
  t.match(again, { start: { key: 'a', inclusive: false }, limit: 1 })
  persisted(loaded(only(loads(prepare('1.2', [{ key: 'b', value: 'y' }]))), {}))
  const waits = step({ type: 'scanned', id: again.id, entries: [['c', entry('z', 1)]], more: false })
  t.same(sent(waits), [], 'b is being created: the page would skip it')
  t.match(waits, [{ type: 'setTimer', timer: { kind: 'read' } }])
  const abort = persisted(step({ type: 'message', msg: { type: 'abort', txId: '1.2' } }))
  t.match(only(scans(abort)), { start: { key: '\u0001', inclusive: true } }, 'once b is free, the page is read again from the request\'s cursor')
})

t.test('a read or listing waiting for the store is answered to nobody once its connection goes; the load still fills the cache', async (t) => {
  const { read, list, loaded, step, m } = setup()
  const load = only(loads(read(1, 'a')))
  const scan = only(scans(list(2)))
  step({ type: 'disconnected' })
  t.same(sent(loaded(load, { a: entry('x', 3) })), [], 'a restarted coordinator numbers its reads from 1 again: no answer to a request id of the old connection')
  t.same(m.state.kv.get('a'), entry('x', 3))
  t.same(sent(step({ type: 'scanned', id: scan.id, entries: [['a', entry('x', 3)]], more: false })), [])
  t.match(m.status().cache, { loads: 0, scans: 0 })
  step({ type: 'connected' })
  t.match(sent(read(3, 'a')), [{ type: 'readResult', reqId: 3, entry: { value: 'x', version: 3 } }], 'a read on the new connection is answered from the cache')
})

t.test('loads and scans in flight are bounded: past the bound a request is dropped and logged', async (t) => {
  const { prepare, read, list, m } = setup()
  for (let i = 0; i < MAX_PARKED; i++) m.state.cache!.loads.set(-i - 1, { request: { kind: 'read', read: { reqId: i, key: `x${i}`, from: 'coordinator' } }, keys: [] })
  t.match(prepare('1.1', [{ key: 'a', value: 'x' }]), [{ type: 'log', level: 'warn', msg: 'too many loads in flight; request dropped', txId: '1.1' }])
  t.match(read(1, 'a'), [{ type: 'log', level: 'warn', key: 'a' }])
  t.match(list(2), [{ type: 'log', level: 'warn', msg: 'too many loads in flight; listing dropped' }])
})

t.test('an answer to a load or scan that is not in flight, or for other keys, is a bug', async (t) => {
  const { step, read } = setup()
  t.throws(() => step({ type: 'loaded', id: 99, entries: [] }), { name: 'InvariantViolation' })
  t.throws(() => step({ type: 'scanned', id: 99, entries: [], more: false }), { name: 'InvariantViolation' })
  const load = only(loads(read(1, 'a')))
  t.throws(() => step({ type: 'loaded', id: load.id, entries: [['b', null]] }), { name: 'InvariantViolation' })
})

t.test('a cache started with the whole replica loads nothing (a key it lacks is absent) until its first eviction', async (t) => {
  // A budget for one entry of this size: a fits, and b, once committed, is one too many.
  const budget = entryBytes('a', entry('v', 1)) * 2 - 1
  const { prepare, read, persisted, step, m } = setup({ entries: [['a', entry('v', 1)]], complete: true }, budget)
  t.match(m.status().cache, { complete: true })
  const e = prepare('1.1', [{ key: 'b', value: 'w', ifAbsent: true }])
  t.same(loads(e), [], 'b is known absent without a read')
  t.match(persists(e), [{ kind: 'prepare', ops: [{ value: { versions: { b: 1 } } }] }])
  t.match(sent(persisted(e)), [{ type: 'vote', yes: true }])
  t.same(loads(read(1, 'a')), [], 'a is in memory')
  t.same(loads(read(2, 'zz')), [], 'so is the absence of any other key')
  t.match(m.status().cache, { complete: true })
  persisted(step({ type: 'message', msg: { type: 'commit', txId: '1.1' } }))
  // a and b are over the budget: a, the least recently used, goes, and with it the whole replica.
  t.match(m.status().cache, { complete: false })
  t.same(only(loads(read(3, 'a'))).keys, ['a'], 'an evicted key is read from the store again')
  t.same(only(loads(read(4, 'never'))).keys, ['never'], 'and so is a key never seen: it may be one of those evicted')
})

t.test('a start that read only the floors is not complete: every other key is loaded', async (t) => {
  const { read, m } = setup({ entries: [] })
  t.match(m.status().cache, { complete: false })
  t.same(only(loads(read(1, 'a'))).keys, ['a'])
})

t.test('without a cache the machine never loads: the whole replica is in memory', async (t) => {
  const { cacheBytes: _cacheBytes, ...whole } = options
  const m = new ParticipantMachine(whole)
  m.step({ type: 'start', now: 0, entries: [], prepared: [], resolved: [] })
  t.equal(m.status().cache, undefined)
  t.same(loads(m.step({ type: 'message', now: 0, msg: { type: 'read', reqId: 1, key: 'a' } })), [])
})
