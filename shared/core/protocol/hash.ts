import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { isDelete, type Write } from './types.ts'

/** The canonical text of a transaction's writes: what two requests must share to be the same transaction (a delete's value is null: a put's is a string). */
function canonicalWrites(writes: readonly Write[]): string {
  return JSON.stringify(writes.map((w) => [w.key, isDelete(w) ? null : w.value, w.ifVersion ?? null, w.ifAbsent ?? null]))
}

/**
 * SHA-256 (hex) of the canonical writes: detects a client id reused for other
 * writes. A 32-bit hash did not: two write sets that collide (easy to find)
 * were taken for one transaction, and the second was answered with the
 * first one's outcome while its writes were never applied.
 */
export function writesDigest(writes: readonly Write[]): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalWrites(writes))))
}

/** The 32-bit FNV-1a of records written before the digest: still compared for them, and only for them. */
export function legacyWritesHash(writes: readonly Write[]): number {
  return fnv1a32(canonicalWrites(writes))
}

/** 32-bit FNV-1a over a string's UTF-16 code units: cheap and stable, not collision-resistant. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** Whether `writes` are the writes a transaction's record describes (by digest, or by the legacy hash of an old record). */
export function sameWrites(recorded: string | number, writes: readonly Write[]): boolean {
  return typeof recorded === 'number' ? recorded === legacyWritesHash(writes) : recorded === writesDigest(writes)
}
