import t from 'tap'
import { parseCoordinators } from '../../../../shared/io/runtime/coordinator-list.ts'

t.test('COORDINATORS: names in order, each a valid id prefix, no duplicates', async (t) => {
  t.same(parseCoordinators('c1, c2'), ['c1', 'c2'])
  t.same(parseCoordinators('coordinator'), ['coordinator'])
  t.throws(() => parseCoordinators(' , '), /names no coordinator/)
  t.throws(() => parseCoordinators('c1,c:2'), /"c:2" is not a coordinator name/)
  t.throws(() => parseCoordinators('c1,c1'), /duplicate/)
})
