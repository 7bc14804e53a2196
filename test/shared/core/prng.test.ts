import t from 'tap'
import { Prng } from '../../../shared/core/prng.ts'

t.test('the same seed gives the same sequence; another seed another one', async (t) => {
  const a = new Prng(42)
  const b = new Prng(42)
  const seqA = Array.from({ length: 20 }, () => a.next())
  t.same(Array.from({ length: 20 }, () => b.next()), seqA)
  t.not(new Prng(43).next(), seqA[0])
  for (const x of seqA) t.ok(x >= 0 && x < 1)
})

t.test('int, chance and pick stay in range', async (t) => {
  const p = new Prng(7)
  for (let i = 0; i < 200; i++) {
    const n = p.int(3, 5)
    t.ok(n >= 3 && n <= 5 && Number.isInteger(n))
  }
  t.equal(p.chance(0), false)
  t.equal(p.chance(1), true)
  t.equal(p.pick(['only']), 'only')
  t.throws(() => p.pick([]), /empty/)
})
