import { entryBytes } from '../../shared/core/participant/replica-cache.ts'
import { cachedStart, cachedStartPrefixes, planParticipantRecovery, type ParticipantRecovery } from '../../shared/core/participant/recovery.ts'
import { recordPrefix } from '../../shared/core/record-keys.ts'
import type { Store } from '../../shared/core/store.ts'

/** A replica cache's budget, and LevelDB's estimate of the bytes on disk under a prefix (to skip reading a replica that cannot fit). */
export interface CacheStart {
  maxBytes: number
  approximateBytes(prefix: string): Promise<number>
}

/** The fewest bytes the cache counts for an entry: a replica of more entries than budget / this cannot fit. */
const MIN_ENTRY_BYTES = entryBytes('', { value: '', version: 0 })

/**
 * Loads the PREPARED records (in-doubt transactions), the resolved markers,
 * the acceptor records and the replica: all of it when the replica is held in
 * memory, and with a replica cache (`cache`) all of it only if it fits in the
 * budget (the cache then knows every absent key); else only the version
 * floors, and the rest is read on demand, so that start-up does not scan a
 * large replica.
 */
export async function recoverReplica(store: Store, cache?: CacheStart): Promise<ParticipantRecovery> {
  if (cache === undefined) return planParticipantRecovery(await store.scan(''))
  const whole = await readWholeReplica(store, cache)
  // The floors are entries too: read whole, the replica holds them already.
  const prefixes = whole === undefined ? cachedStartPrefixes : cachedStartPrefixes.filter((prefix) => !prefix.startsWith(recordPrefix.entry))
  const parts = await Promise.all(prefixes.map((prefix) => store.scan(prefix)))
  // A coordinator's directory given by mistake: its first record fails as every record does in a whole scan.
  const foreign = await Promise.all([recordPrefix.decision, recordPrefix.epoch].map((prefix) => store.scan(prefix, 1)))
  const records = [...parts.flat(), ...(whole ?? [])]
  return cachedStart(planParticipantRecovery([...records, ...foreign.flat()]), cache.maxBytes, whole !== undefined)
}

/** Every entry of the replica, unless it cannot fit in the cache (undefined): told by LevelDB's estimate first, then by a bounded scan. */
async function readWholeReplica(store: Store, cache: CacheStart): Promise<[string, unknown][] | undefined> {
  if ((await cache.approximateBytes(recordPrefix.entry)) > cache.maxBytes) return undefined
  const limit = Math.floor(cache.maxBytes / MIN_ENTRY_BYTES) + 1
  const entries = await store.scan(recordPrefix.entry, limit)
  return entries.length < limit ? entries : undefined
}
