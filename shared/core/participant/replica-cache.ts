import { invariant } from '../protocol/invariant.ts'
import type { PrepareMsg } from '../protocol/messages.ts'
import type { Entry } from '../protocol/types.ts'
import type { ListRange } from './listing.ts'
import type { PendingRead } from './pending-read.ts'
import { isFloorKey } from './version-floor.ts'

/**
 * A replica larger than memory: the machine's `kv` then holds only some of the
 * committed keys, and LevelDB the rest. A request that needs a key that is
 * neither in `kv` nor known absent parks, the machine asks for the key (a
 * `load` effect), and the request runs again, from scratch, once the `loaded`
 * event brings it. Listings read their page from the store (a `scan` effect).
 *
 * What keeps this exact:
 * - A key is loaded only while no transaction holds it. An apply puts its keys
 *   in `kv` once its batch is written, before it lets the lock go, so an
 *   unlocked key's committed value is on disk; and a `loaded` value never
 *   replaces one the cache learnt meanwhile (an apply is newer than any load).
 * - A held key is never needed from the store: a PREPARE meeting a prepared
 *   holder votes `conflict` whatever the version, and an apply still being
 *   written (which hands its lock on) gives version and value itself.
 * - Only unlocked keys are evicted, and never a version floor: all
 *   FLOOR_BUCKETS floors stay in memory (a few MB), read at start.
 * - A scan's page is read from disk after the listing arrived; what applies
 *   committed while it was being read is kept beside it (`changes`) and wins.
 *
 * - A replica that fits in the budget is read whole at start (`complete`): a
 *   key then is either in `kv` or absent, and nothing is loaded, until the
 *   first eviction, after which `kv` may miss a key that exists, for good.
 *   Inserts of new keys thus cost no read while the replica is small.
 *
 * Without `cacheBytes` (unit tests, and simulator configurations without a
 * cache) `kv` is the whole replica and none of this runs.
 */
export interface ReplicaCache {
  /** The budget, in the estimate of entryBytes. */
  maxBytes: number
  bytes: number
  /**
   * `kv` holds every key of the replica, so that a key in neither `kv` nor
   * `absent` is absent: true from a start that read the whole replica
   * (cachedStart in recovery.ts) until the first eviction.
   */
  complete: boolean
  /** Keys known to be absent (a Map: world states hold no Set). */
  absent: Map<string, true>
  nextId: number
  /** Requests parked until their keys are loaded, by load id, and the keys asked for. */
  loads: Map<number, { request: ParkedRequest; keys: string[] }>
  /**
   * Keys of loads in flight, and how many: never evicted, so that a value an
   * apply puts in the cache meanwhile is still there when the (older) loaded
   * value arrives, and wins.
   */
  pinned: Map<string, number>
  /** Listings waiting for their page from the store, by scan id. */
  scans: Map<number, ParkedScan>
}

/** `dropped`: a read whose connection went (its request id means nothing on the next one); the load still fills the cache. */
export type ParkedRequest = { kind: 'prepare'; msg: PrepareMsg } | { kind: 'read'; read: PendingRead } | { kind: 'dropped' }

export interface ParkedScan {
  request: Omit<PendingRead, 'key'> & { list: ListRange }
  /** Where this scan read from: past the request's cursor, or past a page that changes emptied. */
  after: string
  /** Its connection went: the page is answered to nobody. */
  dropped?: true
  /** Keys of the range whose committed value changed while the scan was read (null: deleted). */
  changes: Map<string, Entry | null>
}

/** Loads and scans in flight at most: more are dropped (a PREPARE is then not voted on in time; a read times out). */
export const MAX_PARKED = 10_000

export function newReplicaCache(maxBytes: number): ReplicaCache {
  invariant(maxBytes > 0, () => `a replica cache of ${maxBytes} bytes`)
  return { maxBytes, bytes: 0, complete: false, absent: new Map(), nextId: 1, loads: new Map(), pinned: new Map(), scans: new Map() }
}

/**
 * What a cached key costs, estimated on the high side: V8 keeps a Map entry,
 * an object and two strings (one byte a character for Latin-1, two otherwise).
 */
export function entryBytes(key: string, entry: Entry | null): number {
  return 96 + 2 * key.length + (entry === null ? 0 : 48 + 2 * entry.value.length)
}

/** Whether the cache can answer for `key` (a value, or known absent); a hit moves it to the back of the eviction order. */
export function cacheHas(kv: Map<string, Entry>, cache: ReplicaCache, key: string): boolean {
  const entry = kv.get(key)
  if (entry !== undefined) {
    kv.delete(key)
    kv.set(key, entry)
    return true
  }
  if (cache.absent.has(key)) {
    cache.absent.delete(key)
    cache.absent.set(key, true)
    return true
  }
  // Every floor is in memory (one not in kv is 0), and so is every key of a complete cache (one not in kv is absent).
  return cache.complete || isFloorKey(key)
}

/** What holding these entries costs the cache, in entryBytes' estimate. */
export function entriesBytes(entries: readonly [string, Entry][]): number {
  let bytes = 0
  for (const [key, entry] of entries) bytes += entryBytes(key, entry)
  return bytes
}

/** Records what the cache now knows of `key`. */
export function cacheSet(kv: Map<string, Entry>, cache: ReplicaCache, key: string, entry: Entry | null): void {
  cacheForget(kv, cache, key)
  if (entry === null) {
    if (isFloorKey(key)) return
    cache.absent.set(key, true)
  } else kv.set(key, entry)
  cache.bytes += entryBytes(key, entry)
}

function cacheForget(kv: Map<string, Entry>, cache: ReplicaCache, key: string): void {
  const entry = kv.get(key)
  if (entry !== undefined) {
    kv.delete(key)
    cache.bytes -= entryBytes(key, entry)
  } else if (cache.absent.delete(key)) cache.bytes -= entryBytes(key, null)
}

/**
 * Evicts the least recently used keys until the cache is within its budget:
 * absent keys first (the cheapest to learn again), then values. Held keys,
 * pinned keys and floors stay; it stops early if only those are left.
 */
export function evict(kv: Map<string, Entry>, cache: ReplicaCache, held: ReadonlyMap<string, string>): void {
  if (cache.bytes <= cache.maxBytes) return
  // Whatever goes now may exist on disk only: from here on a key missing from kv must be loaded.
  cache.complete = false
  const evictable = (key: string): boolean => !held.has(key) && !cache.pinned.has(key)
  for (const key of cache.absent.keys()) {
    if (cache.bytes <= cache.maxBytes) return
    if (evictable(key)) cacheForget(kv, cache, key)
  }
  // Each key is looked at once: a floor met is moved to the back, so that the next eviction does not walk
  // past every floor again (they are read at start, and would otherwise stay first in the order).
  let left = kv.size
  for (const key of kv.keys()) {
    if (cache.bytes <= cache.maxBytes || left-- === 0) return
    if (isFloorKey(key)) {
      const floor = kv.get(key)!
      kv.delete(key)
      kv.set(key, floor)
    } else if (evictable(key)) cacheForget(kv, cache, key)
  }
}

export function pin(cache: ReplicaCache, keys: readonly string[], by: 1 | -1): void {
  for (const key of keys) {
    const count = (cache.pinned.get(key) ?? 0) + by
    if (count === 0) cache.pinned.delete(key)
    else cache.pinned.set(key, count)
  }
}

/**
 * Fills in what a load read, except keys the cache learnt meanwhile (an
 * apply's value is newer). `stale`: the flawed variant that takes them all.
 */
export function fillLoaded(kv: Map<string, Entry>, cache: ReplicaCache, entries: readonly [string, Entry | null][], stale = false): void {
  for (const [key, entry] of entries) if (stale || (!kv.has(key) && !cache.absent.has(key))) cacheSet(kv, cache, key, entry)
}

/** Notes a committed change on every scan in flight whose range holds the key. */
export function noteChange(cache: ReplicaCache, key: string, entry: Entry | null, inRange: (range: ListRange, key: string) => boolean): void {
  for (const scan of cache.scans.values()) if (inRange({ ...scan.request.list, after: scan.after }, key)) scan.changes.set(key, entry)
}
