import t from 'tap'
import { cacheHas, cacheSet, entryBytes, evict, fillLoaded, newReplicaCache, noteChange, pin } from '../../../../shared/core/participant/replica-cache.ts'
import { inRange } from '../../../../shared/core/participant/listing.ts'
import type { Entry } from '../../../../shared/core/protocol/types.ts'

const entry = (value: string, version = 1): Entry => ({ value, version })
const FLOOR = '\u0000floor/7'

t.test('a cache counts what it holds, and a key known absent', async (t) => {
  const kv = new Map<string, Entry>()
  const cache = newReplicaCache(10_000)
  cacheSet(kv, cache, 'a', entry('xy'))
  cacheSet(kv, cache, 'gone', null)
  t.equal(cache.bytes, entryBytes('a', entry('xy')) + entryBytes('gone', null))
  t.ok(entryBytes('a', entry('xy')) > entryBytes('a', null), 'a value costs more than knowing a key absent')
  cacheSet(kv, cache, 'a', null)
  t.equal(cache.bytes, entryBytes('a', null) + entryBytes('gone', null), 'replacing forgets the old cost')
  cacheSet(kv, cache, 'gone', entry('back'))
  t.same([...kv], [['gone', entry('back')]])
  t.ok(cacheHas(kv, cache, 'a') && cacheHas(kv, cache, 'gone'))
  t.notOk(cacheHas(kv, cache, 'other'))
  t.ok(cacheHas(kv, cache, FLOOR), 'every floor is known: one not held is 0')
  cacheSet(kv, cache, FLOOR, null)
  t.notOk(cache.absent.has(FLOOR), 'a floor is never recorded absent')
  t.throws(() => newReplicaCache(0), { name: 'InvariantViolation' })
})

t.test('eviction: least recently used first, absent keys before values; held, pinned and floor keys stay', async (t) => {
  const kv = new Map<string, Entry>()
  const cache = newReplicaCache(1)
  for (const key of ['a', 'b', 'c', 'd']) cacheSet(kv, cache, key, entry('v'))
  cacheSet(kv, cache, FLOOR, entry('', 3))
  cacheSet(kv, cache, 'x', null)
  cacheSet(kv, cache, 'y', null)
  t.ok(cacheHas(kv, cache, 'a'), 'a hit moves a to the back')
  t.ok(cacheHas(kv, cache, 'x'))
  const one = entryBytes('a', entry('v'))
  cache.maxBytes = cache.bytes - 1
  evict(kv, cache, new Map())
  t.same([...cache.absent.keys()], ['x'], 'the older absent key goes first')
  cache.maxBytes = cache.bytes - 1
  pin(cache, ['b'], 1)
  evict(kv, cache, new Map([['x', '1.1']]))
  t.same([...cache.absent.keys()], ['x'], 'a held key stays')
  t.same([...kv.keys()], ['b', 'd', FLOOR, 'a'], 'then the least recently used value, skipping the pinned one')
  cache.maxBytes = 0
  evict(kv, cache, new Map([['x', '1.1'], ['d', '1.2']]))
  t.same([...kv.keys()], ['b', 'd', FLOOR], 'down to held keys, floors and pinned keys')
  t.same([...cache.absent.keys()], ['x'])
  pin(cache, ['b', 'b'], 1)
  pin(cache, ['b'], -1)
  t.equal(cache.pinned.get('b'), 2, 'pins count')
  pin(cache, ['b', 'b'], -1)
  t.notOk(cache.pinned.has('b'))
  cache.maxBytes = 1e9
  evict(kv, cache, new Map())
  t.ok(one > 0)
})

t.test('floors met by an eviction go to the back of the order, and an eviction over nothing but floors ends', async (t) => {
  const kv = new Map<string, Entry>()
  const cache = newReplicaCache(1)
  cacheSet(kv, cache, '\u0000floor/1', entry('', 2))
  cacheSet(kv, cache, '\u0000floor/2', entry('', 3))
  cacheSet(kv, cache, 'a', entry('v'))
  cache.maxBytes = cache.bytes - 1
  evict(kv, cache, new Map())
  t.same([...kv.keys()], ['\u0000floor/1', '\u0000floor/2'], 'the value went; the floors walked past moved back, in order')
  cache.maxBytes = 0
  evict(kv, cache, new Map())
  t.same([...kv.keys()], ['\u0000floor/1', '\u0000floor/2'], 'nothing left to evict: it stops after one pass')
})

t.test('a loaded value never replaces one the cache learnt meanwhile', async (t) => {
  const kv = new Map<string, Entry>([['a', entry('applied', 5)]])
  const cache = newReplicaCache(10_000)
  cacheSet(kv, cache, 'gone', null)
  fillLoaded(kv, cache, [['a', entry('old', 4)], ['gone', entry('old', 2)], ['new', entry('n', 1)], ['none', null]])
  t.same(kv.get('a'), entry('applied', 5))
  t.notOk(kv.has('gone'))
  t.same(kv.get('new'), entry('n', 1))
  t.ok(cache.absent.has('none'))
})

t.test('a scan in flight learns every committed change in its range', async (t) => {
  const cache = newReplicaCache(10_000)
  const request = { reqId: 1, from: 'coordinator', list: { prefix: 'b', after: '', limit: 5 } }
  cache.scans.set(1, { request, after: 'b1', changes: new Map() })
  noteChange(cache, 'b2', entry('x'), inRange)
  noteChange(cache, 'b1', entry('x'), inRange)
  noteChange(cache, 'c', null, inRange)
  noteChange(cache, 'b3', null, inRange)
  t.same([...cache.scans.get(1)!.changes], [['b2', entry('x')], ['b3', null]], 'its range is past where it reads from')
})
