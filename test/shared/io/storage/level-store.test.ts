import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Failpoints } from '../../../../shared/io/runtime/failpoints.ts'
import { LevelStore } from '../../../../shared/io/storage/level-store.ts'

async function openStore(t: Test): Promise<{ store: LevelStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'txn-store-'))
  const store = new LevelStore(dir)
  await store.open()
  t.teardown(async () => {
    if (store.isOpen) await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { store, dir }
}

t.test('group commit: requests made while a batch is written go out together in the next batch, in order', async (t) => {
  const { store } = await openStore(t)
  const order: number[] = []
  const perBatch: number[] = []
  store.onBatch = (requests) => { perBatch.push(requests) }
  const writes = Array.from({ length: 50 }, (_, i) => store.write([{ type: 'put', key: `k/${String(i).padStart(3, '0')}`, value: { i } }], i % 10 === 0).then(() => order.push(i)))
  await Promise.all(writes)
  t.same(order, Array.from({ length: 50 }, (_, i) => i), 'acknowledged in request order')
  t.equal(store.stats.requests, 50)
  t.ok(store.stats.batches < 50, `batched: ${store.stats.batches} batches for 50 requests`)
  t.ok(store.stats.syncs >= 1 && store.stats.syncs <= store.stats.batches)
  t.equal(store.stats.ops, 50)
  t.same([perBatch.length, perBatch.reduce((a, b) => a + b, 0)], [store.stats.batches, 50], 'onBatch hears of every batch and the requests in it')
  const all = await store.scan('k/')
  t.equal(all.length, 50)
  t.same(all[7], ['k/007', { i: 7 }])
  t.same(await store.scan('k/', 2), [['k/000', { i: 0 }], ['k/001', { i: 1 }]])
})

t.test('a batch is atomic and later requests see earlier ones (put, then del)', async (t) => {
  const { store, dir } = await openStore(t)
  await Promise.all([store.write([{ type: 'put', key: 'a', value: 1 }, { type: 'put', key: 'b', value: 2 }], true), store.write([{ type: 'del', key: 'a' }], false)])
  t.equal(await store.get('a'), undefined)
  t.equal(await store.get('b'), 2)
  await store.close()
  const reopened = new LevelStore(dir)
  await reopened.open()
  t.same(await reopened.scan(''), [['b', 2]], 'what was written survives a reopen')
  await reopened.close()
})

t.test('a failed batch rejects every request in it', async (t) => {
  const { store } = await openStore(t)
  await store.close()
  await t.rejects(store.write([{ type: 'put', key: 'x', value: 1 }], true))
})

t.test('group-commit failpoints fire only on a synced batch of several requests, before or after its write', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txn-store-'))
  const crashes: string[] = []
  const store = new LevelStore(dir, new Failpoints('store.beforeGroupSync=crash,store.afterGroupSync=crash@2', (name) => crashes.push(name)))
  await store.open()
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await store.write([{ type: 'put', key: 'solo', value: 1 }], true, { label: 'decision 1.1' }) // one request: not a group
  await Promise.all([store.write([{ type: 'put', key: 'u1', value: 1 }], false), store.write([{ type: 'put', key: 'u2', value: 1 }], false)]) // not synced
  t.same(crashes, [])
  await Promise.all([store.write([{ type: 'put', key: 'g1', value: 1 }], true, { label: 'decision 1.2' }), store.write([{ type: 'put', key: 'g2', value: 1 }], false, { label: 'end 1.1' })])
  t.same(crashes, ['store.beforeGroupSync'])
  await Promise.all([store.write([{ type: 'put', key: 'g3', value: 1 }], true, { label: 'decision 1.3' }), store.write([{ type: 'put', key: 'g4', value: 1 }], true, { label: 'decision 1.4' })])
  t.same(crashes, ['store.beforeGroupSync', 'store.afterGroupSync'])
})

t.test('linger: a deferrable write waits for a batch something else needs, and costs no sync of its own', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txn-store-'))
  const store = new LevelStore(dir, undefined, 10_000)
  await store.open()
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  let applied = false
  const apply = store.write([{ type: 'put', key: 'apply', value: 1 }], true, { deferrable: true }).then(() => { applied = true })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(applied, false, 'still lingering: nothing else needed a batch')
  t.equal(store.stats.batches, 0)
  await store.write([{ type: 'put', key: 'prepare', value: 1 }], true)
  await apply
  t.same({ batches: store.stats.batches, syncs: store.stats.syncs, requests: store.stats.requests }, { batches: 1, syncs: 1, requests: 2 }, 'both in one synced batch')
  t.same(await store.scan(''), [['apply', 1], ['prepare', 1]])
})

t.test('linger: a deferrable write alone goes out when its linger runs out; close writes what still lingers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txn-store-'))
  const store = new LevelStore(dir, undefined, 20)
  await store.open()
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const started = Date.now()
  await store.write([{ type: 'put', key: 'a', value: 1 }], true, { deferrable: true })
  t.ok(Date.now() - started >= 15, 'it waited for the linger')
  t.equal(store.stats.syncs, 1)
  let written = false
  void store.write([{ type: 'put', key: 'b', value: 2 }], true, { deferrable: true }).then(() => { written = true })
  await store.close()
  t.equal(written, true, 'close took the lingering write out first')
  const reopened = new LevelStore(dir)
  await reopened.open()
  t.same(await reopened.scan(''), [['a', 1], ['b', 2]])
  await reopened.close()
})

t.test('without a linger, deferrable writes go out at once like any other', async (t) => {
  const { store } = await openStore(t)
  await store.write([{ type: 'put', key: 'a', value: 1 }], true, { deferrable: true })
  t.equal(store.stats.syncs, 1)
})

t.test('snapshot: the records under the prefixes as they were when it was asked for, later writes unseen', async (t) => {
  const { store } = await openStore(t)
  await store.write([{ type: 'put', key: 'kv/a', value: 1 }, { type: 'put', key: 'kv/b', value: 2 }, { type: 'put', key: 'done/x', value: 3 }, { type: 'put', key: 'meta/replica', value: 4 }], true)
  const snapshot = store.snapshot(['kv/', 'done/'])
  // Written after the snapshot was asked for, before it is read: not in it.
  await store.write([{ type: 'put', key: 'kv/c', value: 5 }, { type: 'del', key: 'kv/a' }], true)
  const seen: [string, unknown][] = []
  for await (const record of snapshot.records) seen.push(record)
  await snapshot.close() // read to the end, it closed itself: harmless
  t.same(seen, [['done/x', 3], ['kv/a', 1], ['kv/b', 2]], 'key order, only the prefixes asked for, as of the call')
  // Left early, the iterator is closed (the store then closes without waiting on it).
  for await (const record of store.snapshot(['kv/']).records) {
    t.same(record, ['kv/b', 2])
    break
  }
  // Never read: closed by its reader.
  await store.snapshot(['kv/']).close()
})

t.test('point reads do not make LevelDB compact: a young table that every read passes through stays where it is', async (t) => {
  // LevelDB's Get charges a "seek" to the first table it consulted whenever it had to look in a second one,
  // and compacts that table after about 100 such charges; getMany reads through iterators, which do not charge.
  const dir = mkdtempSync(join(tmpdir(), 'txn-store-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const old = new LevelStore(dir)
  await old.open()
  const keys = Array.from({ length: 5000 }, (_, i) => `e/${String(i).padStart(5, '0')}`)
  await old.write(keys.map((key) => ({ type: 'put' as const, key, value: { v: 'x'.repeat(100) } })), true)
  await old.close()
  // Reopened, the log becomes a table; a second reopen after two writes at both ends adds a young table spanning every key.
  const middle = new LevelStore(dir)
  await middle.open()
  await middle.write([{ type: 'put', key: 'e/', value: 0 }, { type: 'put', key: 'e/~', value: 0 }], true)
  await middle.close()
  const store = new LevelStore(dir)
  await store.open()
  t.teardown(async () => { if (store.isOpen) await store.close() })
  const before = store.tablesPerLevel()
  t.ok(before.reduce((a, b) => a + b, 0) >= 2, `two tables or more, ${JSON.stringify(before)}`)
  let wrong = 0
  for (let i = 0; i < 600; i++) {
    const key = keys[(i * 7919) % keys.length]!
    if (((await store.getMany([key]))[0] as { v: string } | undefined)?.v.length !== 100) wrong++
  }
  t.equal(wrong, 0, 'every read found its value')
  t.same(await store.getMany(['e/', 'e/00001x', 'e/~']), [0, undefined, 0], 'a key between two others reads as none')
  // A compaction runs on LevelDB's own thread: give one that was scheduled time to finish.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.same(store.tablesPerLevel(), before, `no table moved: ${JSON.stringify(store.tablesPerLevel())}`)
})

t.test('approximateBytes: LevelDB\'s estimate of what its tables hold under a prefix; a prefix it cannot bound is a bug', async (t) => {
  const { store } = await openStore(t)
  await store.write(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: `a/${String(i).padStart(5, '0')}`, value: 'x'.repeat(100) })), true)
  t.equal(await store.approximateBytes('a/'), 0, 'still in the memtable: no table holds it yet')
  await store.close()
  await store.open()
  const a = await store.approximateBytes('a/')
  t.ok(a > 10_000, `once in a table: ${a} bytes (compressed)`)
  t.equal(await store.approximateBytes('b/'), 0, 'nothing under another prefix')
  await t.rejects(store.approximateBytes(''), { name: 'InvariantViolation' })
  await t.rejects(store.approximateBytes('é'), { name: 'InvariantViolation' })
})
