import { compareKeys } from '../core/participant/listing.ts'
import type { Entry } from '../core/protocol/types.ts'
import { entryKey, recordPrefix } from '../core/record-keys.ts'
import type { StoreRead } from './model.ts'

/**
 * What a replica cache's read finds in a simulated store, as the service's
 * reader (services/participant/replica-reader.ts) finds it in LevelDB: each
 * key's entry or null, or a scan's page in key order and whether more follow.
 */
export function readStore(store: ReadonlyMap<string, unknown>, effect: StoreRead['effect']): NonNullable<StoreRead['result']> {
  if (effect.type === 'load') return { type: 'loaded', id: effect.id, entries: effect.keys.map((key) => [key, (store.get(entryKey(key)) as Entry | undefined) ?? null]) }
  const prefix = entryKey(effect.prefix)
  const start = entryKey(effect.start.key)
  const rows = [...store]
    .filter(([key]) => {
      const order = compareKeys(key, start)
      return key.startsWith(prefix) && (order > 0 || (order === 0 && effect.start.inclusive))
    })
    .sort(([a], [b]) => compareKeys(a, b))
  const entries = rows.slice(0, effect.limit).map(([key, value]): [string, Entry] => [key.slice(recordPrefix.entry.length), value as Entry])
  return { type: 'scanned', id: effect.id, entries, more: rows.length > effect.limit }
}

/** How a trace names a read. */
export function describeStoreRead(effect: StoreRead['effect']): string {
  return effect.type === 'load' ? `load ${effect.id} of ${effect.keys.join(',')}` : `scan ${effect.id} of "${effect.prefix}"`
}
