import type { Write } from './types.ts'

/** FNV-1a over the canonical JSON of a transaction's writes: detects a client id reused for other writes. */
export function hashWrites(writes: readonly Write[]): number {
  const text = JSON.stringify(writes.map((w) => [w.key, w.value, w.ifVersion ?? null, w.ifAbsent ?? null]))
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
