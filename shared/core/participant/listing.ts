import { isReservedKey } from '../protocol/client-id-claim.ts'
import { invariant } from '../protocol/invariant.ts'
import type { Entry } from '../protocol/types.ts'

/** What a client asks a listing for: keys starting with `prefix`, after `after` in key order, at most `limit`. */
export interface ListRange {
  prefix: string
  /** Exclusive: '' starts at the beginning of the prefix. */
  after: string
  limit: number
}

/** Where a store scan starts, in the store's key order. */
export interface ScanStart {
  key: string
  inclusive: boolean
}

export interface ListedEntry {
  key: string
  value: string
  version: number
}

/** A page, or the key it must wait for first (read-your-writes, as a single read). */
export type ListPage = { entries: ListedEntry[]; more: boolean } | { waitFor: string }

/**
 * Keys in the order LevelDB keeps them: by UTF-8 bytes, which is code point
 * order. JavaScript's `<` compares UTF-16 code units, which puts U+E000..U+FFFF
 * after the astral planes; a cursor must mean the same wherever the page comes from.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x - y
    if (x > 0xffff) i++ // both are the same surrogate pair
  }
  return a.length - b.length
}

/** Whether a listing's range holds `key`: a client's key (never a reserved one) with its prefix, past its cursor. */
export function inRange(range: ListRange, key: string): boolean {
  return key.startsWith(range.prefix) && compareKeys(key, range.after) > 0 && !isReservedKey(key)
}

/**
 * Where a store scan for `range` starts: past the cursor, at the prefix, and
 * for the empty prefix past every reserved key (they all start with U+0000,
 * so the first key that can be a client's starts with U+0001).
 */
export function scanStart(range: ListRange): ScanStart {
  const starts: ScanStart[] = [{ key: range.after, inclusive: false }, { key: range.prefix, inclusive: true }, { key: '\u0001', inclusive: true }]
  return starts.reduce((a, b) => {
    const order = compareKeys(a.key, b.key)
    return order > 0 || (order === 0 && !a.inclusive) ? a : b
  })
}

/**
 * A page for a replica larger than memory: from what a store scan read
 * (`scanned`, in key order, `more` if the store holds further keys of the
 * range) and the changes applies committed while it was read, which win.
 * The range it covers ends at the last key read when there is more; past it
 * nothing is known, so changes there are left for the next page. The same
 * rule as listPage then holds for locked keys. `rescanAfter`: every key read
 * was deleted meanwhile, and the store holds more: read on from there.
 */
export function scannedPage(scanned: readonly [string, Entry][], more: boolean, changes: ReadonlyMap<string, Entry | null>, locks: ReadonlyMap<string, string>, range: ListRange, maxBytes: number): ListPage | { rescanAfter: string } {
  const last = scanned.at(-1)?.[0]
  const covered = (key: string): boolean => !more || compareKeys(key, last!) <= 0
  const view = new Map<string, Entry>(scanned)
  for (const [key, entry] of changes) {
    if (!covered(key)) continue
    if (entry === null) view.delete(key)
    else view.set(key, entry)
  }
  if (view.size === 0 && more) {
    // Reading on must not jump over a held key in what was read (one being created would be skipped).
    const held = firstHeld(locks, range)
    return held !== undefined && compareKeys(held, last!) <= 0 ? { waitFor: held } : { rescanAfter: last! }
  }
  const page = listPage(view, locks, range, maxBytes)
  return 'entries' in page && more ? { entries: page.entries, more: true } : page
}

/** The first key of the range a transaction holds, in key order. */
function firstHeld(locks: ReadonlyMap<string, string>, range: ListRange): string | undefined {
  let first: string | undefined
  for (const key of locks.keys()) if (inRange(range, key) && (first === undefined || compareKeys(key, first) < 0)) first = key
  return first
}

/**
 * One page of the committed keys of a replica, never an uncommitted value.
 * Each key is read-your-writes, as a single read is: a key locked by a
 * transaction (prepared, or committed and still writing its apply, whose
 * client may already have been told) may be about to change, or to appear.
 * The page stops before the first such key; if that key would be the first
 * entry, the listing waits for it (`waitFor`). So a listing always makes
 * progress, and a page never shows a key whose newer committed value a
 * client could already know. `maxBytes` bounds the page's JSON size (a frame
 * has a limit); a page holds at least one entry.
 */
export function listPage(kv: ReadonlyMap<string, Entry>, locks: ReadonlyMap<string, string>, range: ListRange, maxBytes: number): ListPage {
  invariant(range.limit >= 1, () => `a listing of ${range.limit} keys`)
  const firstLocked = firstHeld(locks, range)
  const keys = [...kv.keys()].filter((key) => inRange(range, key) && (firstLocked === undefined || compareKeys(key, firstLocked) < 0)).sort(compareKeys)
  const entries: ListedEntry[] = []
  let bytes = 0
  for (const key of keys) {
    const entry = kv.get(key)!
    bytes += JSON.stringify(key).length + JSON.stringify(entry.value).length + 32
    if (entries.length === range.limit || (entries.length > 0 && bytes > maxBytes)) return { entries, more: true }
    entries.push({ key, value: entry.value, version: entry.version })
  }
  if (firstLocked === undefined) return { entries, more: false }
  return entries.length > 0 ? { entries, more: true } : { waitFor: firstLocked }
}
