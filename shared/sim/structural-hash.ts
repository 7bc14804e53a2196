/**
 * A 128-bit hash of plain data (Maps, arrays, objects, strings, numbers,
 * booleans, null), computed by walking the value once: no string is built,
 * nothing is sorted. It stands in for "MD5 of the canonical form" in the
 * model checker's visited-state hashing, and hashes what `canonical` prints
 * as the same value alike:
 * - Maps and objects are sets of entries: entry hashes are summed, so the
 *   order of insertion does not count (an object's undefined fields are
 *   left out, as JSON does);
 * - arrays of plain values are sets in meaning (acks, votes seen): summed
 *   too; arrays of objects (writes, pending persists) keep their order;
 * - every string, key or value, goes through the renaming (symmetry).
 *
 * The four 32-bit lanes are computed alike from differently seeded string
 * hashes; the chance estimate of 128-bit fingerprints (see
 * fingerprint-set.ts) assumes they behave as independent random functions.
 * A test checks, on complete state spaces, that it tells apart exactly the
 * states the canonical form tells apart.
 */
export class StructuralHash {
  /** Lanes of every string seen, by string: strings repeat across states. */
  private readonly strings = new Map<string, number>()
  private stringLanes = new Int32Array(4 * 256)
  /** 1 for the strings in `watched`, by string index: one Map lookup a string, not three. */
  private isWatched = new Uint8Array(256)
  /** One frame of 4 lanes per nesting level: results are returned through it, allocation-free. */
  private readonly frames = new Int32Array(4 * FRAMES)
  /** Running sums of entry hashes, one per nesting level. */
  private readonly sums = new Int32Array(4 * FRAMES)
  private readonly watched: ReadonlySet<string>
  private rename: ReadonlyMap<string, string> | undefined
  /** Whether the last hashed value held a watched string (a participant name). */
  sawWatched = false

  /** `watched`: strings whose presence `sawWatched` reports; renamings may only map these (participant names). */
  constructor(watched: Iterable<string> = []) {
    this.watched = new Set(watched)
  }

  /** The value's hash as an 8-character string (4 lanes of 32 bits), under an optional renaming of strings. */
  of(value: unknown, rename?: ReadonlyMap<string, string>): string {
    this.rename = rename
    this.sawWatched = false
    this.hash(value, 0)
    const f = this.frames
    return String.fromCharCode(f[0]! & 0xffff, f[0]! >>> 16, f[1]! & 0xffff, f[1]! >>> 16, f[2]! & 0xffff, f[2]! >>> 16, f[3]! & 0xffff, f[3]! >>> 16)
  }

  /** Hashes `value` into frame `d`. */
  private hash(value: unknown, d: number): void {
    // Past the last frame a typed array drops writes silently: that would make different values hash alike.
    if (d + 2 >= FRAMES) throw new RangeError('structural hash: a value nested too deep')
    switch (typeof value) {
      case 'string':
        this.hashString(value, d)
        return
      case 'number':
        this.hashNumber(value, d)
        return
      case 'boolean':
        this.constant(value ? TAG_TRUE : TAG_FALSE, d)
        return
      case 'object':
        if (value === null) break
        if (value instanceof Map) this.hashEntries(value as Map<unknown, unknown>, d, TAG_MAP)
        else if (Array.isArray(value)) this.hashArray(value as unknown[], d)
        // A Set would hash as {} whatever it holds: world states must not contain any.
        else if (value instanceof Set) throw new TypeError('structural hash: a Set in a world state')
        else this.hashEntries(value as Record<string, unknown>, d, TAG_OBJECT)
        return
    }
    // null, undefined (in an array) and anything else hash as null, as canonical prints them.
    this.constant(TAG_NULL, d)
  }

  private constant(tag: number, d: number): void {
    const f = this.frames
    const o = d * 4
    for (let lane = 0; lane < 4; lane++) f[o + lane] = fmix(tag ^ SEEDS[lane]!)
  }

  private hashString(s: string, d: number): void {
    let i = this.strings.get(s) ?? this.addString(s)
    if (this.isWatched[i] === 1) {
      this.sawWatched = true
      const renamed = this.rename?.get(s)
      if (renamed !== undefined) i = this.strings.get(renamed) ?? this.addString(renamed)
    }
    const f = this.frames
    const o = d * 4
    const l = this.stringLanes
    f[o] = l[i * 4]!
    f[o + 1] = l[i * 4 + 1]!
    f[o + 2] = l[i * 4 + 2]!
    f[o + 3] = l[i * 4 + 3]!
  }

  private addString(s: string): number {
    const i = this.strings.size
    if ((i + 1) * 4 > this.stringLanes.length) {
      const grown = new Int32Array(this.stringLanes.length * 2)
      grown.set(this.stringLanes)
      this.stringLanes = grown
      const flags = new Uint8Array(this.isWatched.length * 2)
      flags.set(this.isWatched)
      this.isWatched = flags
    }
    this.isWatched[i] = this.watched.has(s) ? 1 : 0
    for (let lane = 0; lane < 4; lane++) {
      // FNV-1a over the UTF-16 code units, a different offset basis per lane, then a finalizer.
      let h = SEEDS[lane]! ^ TAG_STRING
      for (let c = 0; c < s.length; c++) h = Math.imul(h ^ s.charCodeAt(c), 0x01000193)
      this.stringLanes[i * 4 + lane] = fmix(h ^ s.length)
    }
    this.strings.set(s, i)
    return i
  }

  private hashNumber(n: number, d: number): void {
    const f = this.frames
    const o = d * 4
    if (Number.isInteger(n) && n >= -0x80000000 && n <= 0x7fffffff) {
      for (let lane = 0; lane < 4; lane++) f[o + lane] = fmix(fmix(n ^ SEEDS[lane]!) ^ TAG_NUMBER)
      return
    }
    // Other numbers (rare here) by their printed form, kept apart from strings by a tag.
    const watchedBefore = this.sawWatched
    this.hashString(`#number:${n}`, d)
    this.sawWatched = watchedBefore
    for (let lane = 0; lane < 4; lane++) f[o + lane] = fmix(f[o + lane]! ^ TAG_NUMBER)
  }

  /** A Map's or an object's entries, as a set: the sum of the entry hashes (no closure: tsx wraps each one). */
  private hashEntries(value: Map<unknown, unknown> | Record<string, unknown>, d: number, tag: number): void {
    const sum = this.sums
    const o = d * 4
    sum[o] = sum[o + 1] = sum[o + 2] = sum[o + 3] = 0
    let count = 0
    if (value instanceof Map) {
      for (const [key, item] of value) {
        this.addEntry(String(key), item, d)
        count++
      }
    } else {
      for (const key in value) {
        const item = value[key]
        if (item === undefined) continue
        this.addEntry(key, item, d)
        count++
      }
    }
    this.close(d, tag, count, sum[o], sum[o + 1]!, sum[o + 2]!, sum[o + 3]!)
  }

  private addEntry(key: string, item: unknown, d: number): void {
    const f = this.frames
    const sum = this.sums
    const o = d * 4
    const k = (d + 1) * 4
    const v = (d + 2) * 4
    this.hashString(key, d + 1)
    this.hash(item, d + 2)
    sum[o] = sum[o]! + fmix(Math.imul(f[k]!, 0x9e3779b1) ^ f[v]!)
    sum[o + 1] = sum[o + 1]! + fmix(Math.imul(f[k + 1]!, 0x85ebca77) ^ f[v + 1]!)
    sum[o + 2] = sum[o + 2]! + fmix(Math.imul(f[k + 2]!, 0xc2b2ae3d) ^ f[v + 2]!)
    sum[o + 3] = sum[o + 3]! + fmix(Math.imul(f[k + 3]!, 0x27d4eb2f) ^ f[v + 3]!)
  }

  /** Arrays of plain values as multisets (summed), arrays holding objects in order. */
  private hashArray(value: unknown[], d: number): void {
    let plain = true
    for (const item of value) if (typeof item === 'object' && item !== null) plain = false
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0
    const f = this.frames
    const e = (d + 1) * 4
    for (const item of value) {
      this.hash(item, d + 1)
      if (plain) {
        a0 = (a0 + fmix(f[e]!)) | 0
        a1 = (a1 + fmix(f[e + 1]!)) | 0
        a2 = (a2 + fmix(f[e + 2]!)) | 0
        a3 = (a3 + fmix(f[e + 3]!)) | 0
      } else {
        a0 = fmix(Math.imul(a0, 0x01000193) ^ f[e]!)
        a1 = fmix(Math.imul(a1, 0x01000193) ^ f[e + 1]!)
        a2 = fmix(Math.imul(a2, 0x01000193) ^ f[e + 2]!)
        a3 = fmix(Math.imul(a3, 0x01000193) ^ f[e + 3]!)
      }
    }
    this.close(d, plain ? TAG_SET : TAG_LIST, value.length, a0, a1, a2, a3)
  }

  private close(d: number, tag: number, count: number, a0: number, a1: number, a2: number, a3: number): void {
    const f = this.frames
    const o = d * 4
    f[o] = fmix(a0 ^ Math.imul(count + 1, 0x9e3779b1) ^ tag ^ SEEDS[0])
    f[o + 1] = fmix(a1 ^ Math.imul(count + 1, 0x85ebca77) ^ tag ^ SEEDS[1])
    f[o + 2] = fmix(a2 ^ Math.imul(count + 1, 0xc2b2ae3d) ^ tag ^ SEEDS[2])
    f[o + 3] = fmix(a3 ^ Math.imul(count + 1, 0x27d4eb2f) ^ tag ^ SEEDS[3])
  }
}

/** MurmurHash3's 32-bit finalizer: a bijection that spreads every input bit over the output. */
function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** Nesting levels: a Map or object entry takes two (key and value), so values may nest about 30 deep; world states nest under 10. */
const FRAMES = 64
const SEEDS = [0x811c9dc5, 0x2f6b1a37, 0x5bd1e995, 0x7feb352d] as const
const TAG_NULL = 0x1000_0001
const TAG_TRUE = 0x1000_0002
const TAG_FALSE = 0x1000_0003
const TAG_STRING = 0x1000_0004
const TAG_NUMBER = 0x1000_0005
const TAG_MAP = 0x1000_0006
const TAG_OBJECT = 0x1000_0007
const TAG_SET = 0x1000_0008
const TAG_LIST = 0x1000_0009

/**
 * A 128-bit hash of a short text (a world's form: the concatenated part
 * hashes), into `out` (16 bytes): four differently seeded FNV-1a lanes, each
 * finalized. Several times cheaper than MD5 for the ~100 characters it gets.
 */
export function hashText(text: string, out: Uint8Array): Uint8Array {
  for (let lane = 0; lane < 4; lane++) {
    let h: number = SEEDS[lane]!
    for (let c = 0; c < text.length; c++) h = Math.imul(h ^ text.charCodeAt(c), 0x01000193)
    h = fmix(h ^ text.length ^ Math.imul(lane + 1, 0x9e3779b1))
    // Little-endian, byte by byte: no DataView allocated per state.
    out[lane * 4] = h & 0xff
    out[lane * 4 + 1] = (h >>> 8) & 0xff
    out[lane * 4 + 2] = (h >>> 16) & 0xff
    out[lane * 4 + 3] = h >>> 24
  }
  return out
}
