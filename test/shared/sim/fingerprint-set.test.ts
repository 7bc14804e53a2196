import { createHash } from 'node:crypto'
import t from 'tap'
import { FingerprintSet } from '../../../shared/sim/fingerprint-set.ts'

const digest = (s: string): Buffer => createHash('md5').update(s).digest()

t.test('adds each digest once, through growth', async (t) => {
  const set = new FingerprintSet(4)
  let added = 0
  for (let i = 0; i < 10_000; i++) if (set.add(digest(`state ${i}`))) added++
  t.equal(added, 10_000, 'every digest is new the first time')
  t.equal(set.size, 10_000)
  let again = 0
  for (let i = 0; i < 10_000; i++) if (!set.add(digest(`state ${i}`))) again++
  t.equal(again, 10_000, 'every digest is found again after the table grew')
  t.equal(set.size, 10_000)
})

t.test('digests that differ in any word are different states', async (t) => {
  const set = new FingerprintSet()
  const base = new Uint8Array(16).fill(7)
  t.equal(set.add(base), true)
  for (let byte = 0; byte < 16; byte += 4) {
    const other = base.slice()
    other[byte + 1] = 9
    t.equal(set.add(other), true, `word ${byte / 4} differs`)
  }
  t.equal(set.add(base.slice()), false)
  t.equal(set.add(new Uint8Array(16)), true, 'an all-zero digest is stored, not taken for an empty slot')
  t.equal(set.add(new Uint8Array(16)), false)
})

t.test('reads a digest that is a view into a larger buffer', async (t) => {
  const set = new FingerprintSet()
  const big = Buffer.alloc(64, 3)
  big.fill(5, 16, 32)
  t.equal(set.add(big.subarray(16, 32)), true)
  t.equal(set.add(Buffer.alloc(16, 5)), false, 'the same 16 bytes, found again')
})
