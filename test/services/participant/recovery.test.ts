import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { entryBytes } from '../../../shared/core/participant/replica-cache.ts'
import { FLOOR_PREFIX, floorKey } from '../../../shared/core/participant/version-floor.ts'
import { entryKey, recordPrefix } from '../../../shared/core/record-keys.ts'
import { LevelStore } from '../../../shared/io/storage/level-store.ts'
import { recoverReplica } from '../../../services/participant/recovery.ts'

// What a participant with a replica cache keeps at start, read from a real LevelDB directory.
async function storeWith(t: Test, keys: number): Promise<LevelStore> {
  const dir = mkdtempSync(join(tmpdir(), 'txn-recovery-'))
  const store = new LevelStore(dir)
  await store.open()
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const ops = Array.from({ length: keys }, (_, i) => ({ type: 'put' as const, key: entryKey(`k${i}`), value: { value: 'v', version: 1 } }))
  ops.push({ type: 'put', key: entryKey(floorKey('k0')), value: { value: '', version: 3 } })
  await store.write(ops, true)
  return store
}

const perEntry = entryBytes('k0', { value: 'v', version: 1 })

/** Records the prefixes the store is asked to scan. */
function scansOf(store: LevelStore): string[] {
  const prefixes: string[] = []
  const scan = store.scan.bind(store)
  store.scan = async (prefix, limit) => {
    prefixes.push(prefix)
    return scan(prefix, limit)
  }
  return prefixes
}

t.test('a replica that fits in the cache is kept whole, and the cache starts complete', async (t) => {
  const store = await storeWith(t, 10)
  const scanned = scansOf(store)
  const plan = await recoverReplica(store, { maxBytes: 1 << 20, approximateBytes: (prefix) => store.approximateBytes(prefix) })
  t.equal(plan.complete, true)
  t.equal(plan.entries.length, 11, 'ten keys and a floor, the floor once')
  t.equal(scanned.filter((prefix) => prefix.startsWith(recordPrefix.entry)).length, 1, `the entries are read once, floors included: ${JSON.stringify(scanned)}`)
})

t.test('a replica over the budget keeps only its floors', async (t) => {
  const store = await storeWith(t, 10)
  const scanned = scansOf(store)
  const plan = await recoverReplica(store, { maxBytes: perEntry * 5, approximateBytes: async () => 0 })
  t.equal(plan.complete, undefined)
  t.same(plan.entries.map(([key]) => key), [floorKey('k0')])
  t.ok(scanned.includes(entryKey(FLOOR_PREFIX)), `the floors are scanned on their own: ${JSON.stringify(scanned)}`)
})

t.test('a replica with more entries than the budget could count is not read to the end', async (t) => {
  const store = await storeWith(t, 200)
  const scanned: number[] = []
  const scan = store.scan.bind(store)
  store.scan = async (prefix, limit) => {
    const out = await scan(prefix, limit)
    if (prefix === recordPrefix.entry) scanned.push(out.length)
    return out
  }
  // 2,000 bytes: at most 2,000 / (the smallest entry's 144 bytes) = 13 entries could fit; the scan stops at 14.
  const plan = await recoverReplica(store, { maxBytes: 2000, approximateBytes: async () => 0 })
  t.same(scanned, [14])
  t.equal(plan.complete, undefined)
  t.same(plan.entries.map(([key]) => key), [floorKey('k0')])
})

t.test('a replica LevelDB estimates larger than the budget is not scanned at all', async (t) => {
  const store = await storeWith(t, 10)
  const asked: string[] = []
  const plan = await recoverReplica(store, { maxBytes: 1 << 20, approximateBytes: async (prefix) => { asked.push(prefix); return 2 << 20 } })
  t.same(asked, [recordPrefix.entry])
  t.equal(plan.complete, undefined, 'it would have fitted, but the estimate says no: floors only')
  t.same(plan.entries.map(([key]) => key), [floorKey('k0')])
})

t.test('without a cache the whole replica is kept', async (t) => {
  const store = await storeWith(t, 10)
  const plan = await recoverReplica(store)
  t.equal(plan.complete, undefined)
  t.equal(plan.entries.length, 11)
})
