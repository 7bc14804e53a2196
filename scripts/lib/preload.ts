import { cpSync } from 'node:fs'
import { ClassicLevel } from 'classic-level'
import { entryKey } from '../../shared/core/record-keys.ts'

/** Records per LevelDB batch while preloading: large enough that the per-batch cost vanishes. */
const BATCH = 10_000

/** The key of the i-th preloaded entry: fixed width, so that they sort in order and a random one is easy to name. */
export const preloadKey = (i: number): string => `pre/${String(i).padStart(9, '0')}`

export interface Preloaded {
  keys: number
  valueBytes: number
  /** Writing the first replica, and copying it to the others. */
  loadMs: number
  copyMs: number
}

/**
 * The bench's bulk-load path (`npm run bench -- --preload N`): N committed
 * entries (version 1, `valueBytes` each) written straight into the first
 * participant's LevelDB directory, unsynced batches and one synced write at
 * the end, then the directory copied to the others, before any node starts.
 * Replicas built so are identical, as a cluster that committed those writes
 * would hold them (without the transactions' resolved markers); a replica
 * with data and no identity is an `existing` one, which coordinators admit.
 * Through the API the same load would take hours; this takes minutes.
 */
export async function preloadReplicas(dirs: readonly string[], keys: number, valueBytes: number): Promise<Preloaded> {
  const [first, ...others] = dirs
  if (first === undefined) throw new Error('preload: no participant directory')
  const started = Date.now()
  const db = new ClassicLevel<string, unknown>(first, { valueEncoding: 'json' })
  await db.open()
  const value = 'p'.repeat(valueBytes)
  try {
    for (let start = 0; start < keys; start += BATCH) {
      const batch = db.batch()
      for (let i = start; i < Math.min(keys, start + BATCH); i++) batch.put(entryKey(preloadKey(i)), { value, version: 1 })
      // The last batch synced: everything before it is then on disk too.
      await batch.write({ sync: start + BATCH >= keys })
    }
  } finally {
    await db.close()
  }
  const loadMs = Date.now() - started
  for (const dir of others) cpSync(first, dir, { recursive: true })
  return { keys, valueBytes, loadMs, copyMs: Date.now() - started - loadMs }
}
