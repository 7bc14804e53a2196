import t from 'tap'
import { median, percentile } from '../../scripts/lib/stats.ts'

t.test('median and percentile by nearest rank, whatever the input order; 0 for no measurements', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 3, 'the upper of the middle two')
  t.equal(median([]), 0)
  const hundred = Array.from({ length: 100 }, (_, i) => 100 - i)
  t.equal(percentile(hundred, 50), 51)
  t.equal(percentile(hundred, 99), 100)
  t.equal(percentile(hundred, 100), 100, 'capped at the largest')
  t.equal(percentile([], 99), 0)
})
