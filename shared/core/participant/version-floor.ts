import { RESERVED_KEY_PREFIX } from '../protocol/client-id-claim.ts'
import { fnv1a32 } from '../protocol/hash.ts'

/**
 * Deletes leave no tombstone; versions still never repeat across a key's lives.
 *
 * A delete gives the key its next version, like any write, removes the key's
 * entry, and raises the version floor of the key's bucket (one of
 * FLOOR_BUCKETS, by a hash of the key) to at least that version. A key
 * created afresh gets its bucket's floor + 1. So a client
 * holding version n of a key's first life can never see `ifVersion: n` pass
 * against its second life, and nothing per deleted key is left to collect:
 * the floors are at most FLOOR_BUCKETS small records in all.
 *
 * Why buckets and not one floor, or one per key: every replica must give a
 * created key the same version, so the floor it reads must be locked like a
 * key (a delete raising it while a create reads it would let replicas that
 * saw them in different orders disagree). One floor would make every create
 * conflict with every delete; one per key is a tombstone. With 65,536
 * buckets two transactions that create or delete different keys meet on a
 * floor with odds of about 1 in 65,536 per pair, and the one that loses
 * votes `conflict` and may retry. Overwrites of live keys never touch a floor.
 *
 * Reserved keys (client-id claims) are never deleted and take no floor.
 * FLOOR_BUCKETS is part of the data format: changing it would move keys to
 * other floors.
 */
export const FLOOR_BUCKETS = 65_536

/** Every floor's key starts with it: a scan under it reads them all. */
export const FLOOR_PREFIX = `${RESERVED_KEY_PREFIX}floor/`

/** The reserved key holding the floor of `key`'s bucket; its entry's version is the floor. */
export function floorKey(key: string): string {
  return `${FLOOR_PREFIX}${bucketOf(key)}`
}

export function isFloorKey(key: string): boolean {
  return key.startsWith(FLOOR_PREFIX)
}

/** FNV-1a over the key's UTF-16 code units, folded to FLOOR_BUCKETS. */
function bucketOf(key: string): number {
  return fnv1a32(key) % FLOOR_BUCKETS
}
