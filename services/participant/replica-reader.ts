import { EntrySchema, recordReader } from '../../shared/core/protocol/record-reader.ts'
import type { Entry } from '../../shared/core/protocol/types.ts'
import { entryKey, recordPrefix } from '../../shared/core/record-keys.ts'
import type { ScanStart } from '../../shared/core/participant/listing.ts'
import type { Store } from '../../shared/core/store.ts'

const readEntry = recordReader(EntrySchema)

/**
 * Serves a replica cache's `load` and `scan` effects (core/participant/replica-cache.ts)
 * from the store. Every entry read is checked against its schema: a corrupt one
 * is a CorruptRecordError naming its key, as at recovery.
 */
export async function loadEntries(store: Store, keys: string[]): Promise<[string, Entry | null][]> {
  const values = await store.getMany(keys.map(entryKey))
  return keys.map((key, i) => [key, values[i] === undefined ? null : readEntry(entryKey(key), values[i])])
}

/** At most `limit` entries of the range, and whether the store holds more. */
export async function scanEntries(store: Store, prefix: string, start: ScanStart, limit: number): Promise<{ entries: [string, Entry][]; more: boolean }> {
  const rows = await store.scanFrom(entryKey(prefix), { key: entryKey(start.key), inclusive: start.inclusive }, limit + 1)
  const entries = rows.slice(0, limit).map(([key, value]): [string, Entry] => [key.slice(recordPrefix.entry.length), readEntry(key, value)])
  return { entries, more: rows.length > limit }
}
