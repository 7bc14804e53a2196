import { createHash } from 'node:crypto'
import type { Entry } from '../../core/protocol/types.ts'

export interface ReplicaDigest {
  /** Entries hashed: client keys, client ids' claims and version floors alike. */
  entries: number
  /** SHA-256 (hex) over the entries in key order, each as the JSON text of `[key, value, version]` and a newline. */
  digest: string
}

/**
 * A digest over a replica's committed entries, to tell whether two replicas
 * are identical without sending them (the definition is the README's, so
 * that any tool can compute it from `GET /v1/replica`). `entries` must come
 * in key order, as a LevelDB scan gives them.
 */
export function replicaDigest(entries: Iterable<readonly [string, Entry]>): ReplicaDigest {
  const hash = createHash('sha256')
  let count = 0
  for (const [key, entry] of entries) {
    hash.update(`${JSON.stringify([key, entry.value, entry.version])}\n`)
    count++
  }
  return { entries: count, digest: hash.digest('hex') }
}
