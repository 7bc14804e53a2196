import type { Test } from 'tap'
import type { Store } from '../../shared/core/store.ts'

/** A backend under test: how to open a fresh store, and how to close and open it again on the same data. */
export interface StoreBackend {
  name: string
  open: (t: Test) => Promise<Store>
  reopen: (store: Store) => Promise<Store>
}

/**
 * The storage contract (abstract-level's habit: one suite, every backend).
 * What the machines' persist effects and the recovery code rely on, and
 * nothing a backend may choose for itself (group commit, lingering).
 */
export function storeContract(t: Test, backend: StoreBackend): void {
  t.test(`${backend.name}: an empty store has nothing, and says so without throwing`, async (t) => {
    const store = await backend.open(t)
    t.ok(store.isOpen)
    t.equal(await store.get('missing'), undefined)
    t.same(await store.scan(''), [])
  })

  t.test(`${backend.name}: a batch is applied whole and in order; later batches see earlier ones`, async (t) => {
    const store = await backend.open(t)
    await Promise.all([
      store.write([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: 2 }, { type: 'put', key: 'a', value: 3 }], true),
      store.write([{ type: 'del', key: 'b' }], false),
    ])
    t.equal(await store.get('a'), 3, 'within a batch, the last op on a key wins')
    t.equal(await store.get('b'), undefined, 'a later batch deletes what an earlier one wrote')
  })

  t.test(`${backend.name}: concurrent writes resolve in the order they were asked for`, async (t) => {
    const store = await backend.open(t)
    const order: number[] = []
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write([{ type: 'put', key: `k/${i}`, value: i }], i % 3 === 0).then(() => order.push(i))))
    t.same(order, Array.from({ length: 20 }, (_, i) => i))
  })

  t.test(`${backend.name}: scan returns one prefix, in key order, up to a limit`, async (t) => {
    const store = await backend.open(t)
    await store.write(['kv/b', 'kv/a', 'kv/ä', 'kw/x', 'kv', 'k'].map((key) => ({ type: 'put' as const, key, value: key })), false)
    t.same((await store.scan('kv/')).map(([k]) => k), ['kv/a', 'kv/b', 'kv/ä'])
    t.same((await store.scan('kv/', 2)).map(([k]) => k), ['kv/a', 'kv/b'])
    t.same((await store.scan('')).length, 6)
    t.same(await store.scan('kv/', 0), [], 'a limit of 0 returns nothing')
  })

  t.test(`${backend.name}: scan finds keys with characters above U+FFFF (LevelDB orders keys by UTF-8 bytes)`, async (t) => {
    const store = await backend.open(t)
    const keys = ['kv/\u{1F600}', 'kv/\uffff', 'kv/a\u{10FFFF}', 'kv/z', 'kw/\u{1F600}']
    await store.write(keys.map((key) => ({ type: 'put' as const, key, value: 1 })), false)
    // The order of the first two differs between UTF-16 and UTF-8: compare as sets.
    t.same((await store.scan('kv/')).map(([k]) => k).sort(), keys.slice(0, 4).sort(), 'every key with the prefix, none without')
    t.same((await store.scan('kv/\u{1F600}')).map(([k]) => k), ['kv/\u{1F600}'])
  })

  t.test(`${backend.name}: getMany answers each key in its order, undefined for none`, async (t) => {
    const store = await backend.open(t)
    await store.write([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'c', value: { n: 3 } }], false)
    t.same(await store.getMany(['c', 'b', 'a']), [{ n: 3 }, undefined, 1])
    t.same(await store.getMany([]), [])
  })

  t.test(`${backend.name}: scanFrom reads one prefix from a start key on, inclusive or not, in UTF-8 byte order, up to a limit`, async (t) => {
    const store = await backend.open(t)
    const keys = ['kv/a', 'kv/b', 'kv/c', 'kv/\uffff', 'kv/\u{1F600}', 'kw/a']
    await store.write(keys.map((key) => ({ type: 'put' as const, key, value: key })), false)
    const names = async (start: { key: string; inclusive: boolean }, limit = 10): Promise<string[]> => (await store.scanFrom('kv/', start, limit)).map(([k]) => k)
    t.same(await names({ key: 'kv/', inclusive: true }), ['kv/a', 'kv/b', 'kv/c', 'kv/\uffff', 'kv/\u{1F600}'], 'U+FFFF before U+1F600, as in UTF-8')
    t.same(await names({ key: 'kv/b', inclusive: true }, 2), ['kv/b', 'kv/c'])
    t.same(await names({ key: 'kv/b', inclusive: false }, 2), ['kv/c', 'kv/\uffff'])
    t.same(await names({ key: 'kv/\uffff', inclusive: false }), ['kv/\u{1F600}'])
    t.same(await names({ key: 'kv/a', inclusive: true }, 0), [], 'a limit of 0 returns nothing')
  })

  t.test(`${backend.name}: values come back as JSON would carry them, own __proto__ keys included, unaffected by later changes`, async (t) => {
    const store = await backend.open(t)
    const value = JSON.parse('{"__proto__":1,"constructor":{"x":[1,"two",null,true]}}') as Record<string, unknown>
    await store.write([{ type: 'put', key: 'v', value }], true)
    Object.assign(value, { constructor: 'changed' })
    const read = (await store.get('v')) as Record<string, unknown>
    t.same(Object.entries(read), [['__proto__', 1], ['constructor', { x: [1, 'two', null, true] }]])
  })

  t.test(`${backend.name}: what was written survives closing and opening again`, async (t) => {
    const store = await backend.open(t)
    await store.write([{ type: 'put', key: 'kept', value: { n: 1 } }], true)
    await store.write([{ type: 'put', key: 'also', value: 2 }], false)
    const again = await backend.reopen(store)
    t.same(await again.scan(''), [['also', 2], ['kept', { n: 1 }]])
  })

  t.test(`${backend.name}: counts requests, batches, syncs and ops; refuses writes once closed`, async (t) => {
    const store = await backend.open(t)
    await store.write([{ type: 'put', key: 'a', value: 1 }, { type: 'del', key: 'b' }], true)
    await store.write([{ type: 'put', key: 'c', value: 1 }], false)
    t.match(store.stats, { requests: 2, ops: 3 })
    t.ok(store.stats.syncs >= 1 && store.stats.syncs <= store.stats.batches && store.stats.batches <= 2, JSON.stringify(store.stats))
    await store.close()
    t.notOk(store.isOpen)
    await t.rejects(store.write([{ type: 'put', key: 'x', value: 1 }], true))
  })
}
