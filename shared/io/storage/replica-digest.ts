import { createHash, type Hash } from 'node:crypto'
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
 * that any tool can compute it from `GET /v1/replica`). Entries must be
 * added in key order, as a LevelDB scan gives them.
 */
export class ReplicaDigester {
  private readonly hash: Hash = createHash('sha256')
  private count = 0

  add(key: string, entry: Entry): void {
    this.hash.update(`${JSON.stringify([key, entry.value, entry.version])}\n`)
    this.count++
  }

  /** The digest of what was added (once: the hash is finished). */
  result(): ReplicaDigest {
    return { entries: this.count, digest: this.hash.digest('hex') }
  }
}

/** The digest of `entries`, in key order. */
export function replicaDigest(entries: Iterable<readonly [string, Entry]>): ReplicaDigest {
  const digester = new ReplicaDigester()
  for (const [key, entry] of entries) digester.add(key, entry)
  return digester.result()
}
