/**
 * The set of visited states, as 128-bit fingerprints in one open-addressing
 * table (linear probing) of 32-bit words: 16 bytes a state and no object per
 * entry, where a JavaScript Set of digest strings costs about 80 and stops at
 * 2^24 entries. TLC keeps 64-bit fingerprints the same way; with 128 bits the
 * chance that two of 100 million distinct states collide is below 10^-20.
 */
export class FingerprintSet {
  private words: Uint32Array
  private mask: number
  private count = 0

  constructor(initialSlots = 1 << 16) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(initialSlots, 2)))
    this.words = new Uint32Array(slots * 4)
    this.mask = slots - 1
  }

  get size(): number {
    return this.count
  }

  /** Adds a 16-byte digest; false when it was already there. */
  add(digest: Uint8Array): boolean {
    const view = new DataView(digest.buffer, digest.byteOffset, 16)
    // An all-zero slot means empty: a digest's first word is never zero here.
    const a = (view.getUint32(0, true) | 1) >>> 0
    const b = view.getUint32(4, true)
    const c = view.getUint32(8, true)
    const d = view.getUint32(12, true)
    if (this.insert(a, b, c, d)) {
      this.count++
      // Half full at most, so that probe runs stay short.
      if (this.count * 2 > this.mask + 1) this.grow()
      return true
    }
    return false
  }

  private insert(a: number, b: number, c: number, d: number): boolean {
    const words = this.words
    let at = ((a >>> 1) & this.mask) * 4
    for (; words[at] !== 0; at = (at + 4) & (this.mask * 4 + 3)) {
      if (words[at] === a && words[at + 1] === b && words[at + 2] === c && words[at + 3] === d) return false
    }
    words[at] = a
    words[at + 1] = b
    words[at + 2] = c
    words[at + 3] = d
    return true
  }

  private grow(): void {
    const old = this.words
    this.words = new Uint32Array(old.length * 2)
    this.mask = this.mask * 2 + 1
    for (let at = 0; at < old.length; at += 4) {
      if (old[at] !== 0) this.insert(old[at]!, old[at + 1]!, old[at + 2]!, old[at + 3]!)
    }
  }
}
