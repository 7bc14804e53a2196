import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Store } from '../../shared/core/store.ts'
import { LevelStore } from '../../shared/io/storage/level-store.ts'
import { MemoryStore } from '../../shared/sim/memory-store.ts'
import { storeContract } from '../helpers/store-contract.ts'

const levelDirs = new Map<Store, string>()

storeContract(t, {
  name: 'LevelStore',
  open: async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'txn-contract-'))
    const store = new LevelStore(dir, undefined, 5)
    await store.open()
    levelDirs.set(store, dir)
    t.teardown(async () => {
      for (const [s, d] of levelDirs) if (d === dir && s.isOpen) await s.close()
      rmSync(dir, { recursive: true, force: true })
    })
    return store
  },
  reopen: async (store) => {
    const dir = levelDirs.get(store)!
    await store.close()
    const again = new LevelStore(dir)
    await again.open()
    levelDirs.set(again, dir)
    return again
  },
})

const memoryStores = new Map<Store, MemoryStore>()
storeContract(t, {
  name: 'MemoryStore',
  open: async () => {
    const store = new MemoryStore()
    memoryStores.set(store, store)
    return store
  },
  reopen: async (store) => {
    await store.close()
    const memory = memoryStores.get(store)!
    memory.reopen()
    return memory
  },
})

t.test('MemoryStore: a power loss keeps exactly what a sync covered (a sync covers every batch written before it)', async (t) => {
  const store = new MemoryStore()
  await store.write([{ type: 'put', key: 'a', value: 1 }], false)
  await store.write([{ type: 'put', key: 'b', value: 2 }], true)
  await store.write([{ type: 'put', key: 'c', value: 3 }, { type: 'del', key: 'a' }], false)
  t.same(await store.scan(''), [['b', 2], ['c', 3]], 'every batch is visible at once')
  store.powerLoss()
  t.same(await store.scan(''), [['a', 1], ['b', 2]], 'the unsynced last batch is gone, the one synced by a later sync is kept')
  t.ok(store.isOpen)
})
