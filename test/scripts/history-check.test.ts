import t from 'tap'
import { checkHistory, type OpRecord, type ReplicaState } from '../../scripts/lib/history-check.ts'

const replica = (participant: string, entries: ReplicaState['entries'], extra: Partial<ReplicaState> = {}): ReplicaState => ({ participant, entries, prepared: [], locks: 0, ...extra })
const op = (n: number, outcome: OpRecord['outcome'], writes: [string, string][], versions?: Record<string, number>): OpRecord => {
  const o: OpRecord = { n, clientId: `c${n}`, writes: writes.map(([key, value]) => ({ key, value })), outcome }
  if (versions) o.versions = versions
  return o
}

const clean: OpRecord[] = [
  op(0, 'committed', [['a', 'x0'], ['b', 'y0']], { a: 1, b: 1 }),
  op(1, 'aborted', [['a', 'x1']]),
  op(2, 'committed', [['a', 'x2']], { a: 2 }),
]
const cleanEntries = { a: { value: 'x2', version: 2 }, b: { value: 'y0', version: 1 } }

t.test('a clean history with identical replicas has no violation', async (t) => {
  t.same(checkHistory(clean, [replica('p1', cleanEntries), replica('p2', cleanEntries)]), [])
})

t.test('catches replicas that differ', async (t) => {
  t.match(checkHistory(clean, [replica('p1', cleanEntries), replica('p2', { ...cleanEntries, b: { value: 'zz', version: 1 } })]), [/p2 differs from p1: b:/])
})

t.test('catches leftover PREPARED records and locks', async (t) => {
  t.match(checkHistory(clean, [replica('p1', cleanEntries, { prepared: ['1.9'], locks: 1 })]), [/p1 still holds 1 PREPARED records and 1 locks/])
})

t.test('catches a lost acknowledged commit', async (t) => {
  const lost = { a: { value: 'x0', version: 1 }, b: { value: 'y0', version: 1 } }
  t.match(checkHistory(clean, [replica('p1', lost)]), [/key a: replica at version 1, highest committed version 2/])
})

t.test('catches a write of an aborted transaction (a version nobody committed)', async (t) => {
  const leaked = { ...cleanEntries, a: { value: 'x1', version: 3 } }
  t.match(checkHistory(clean, [replica('p1', leaked)]), [/key a: replica at version 3/, /version 3 was written by no committed transaction/])
})

t.test('catches a replica value that is not the last commit', async (t) => {
  t.match(checkHistory(clean, [replica('p1', { ...cleanEntries, a: { value: 'x1', version: 2 } })]), [/key a: replica holds "x1", the last commit \(op 2\) wrote "x2"/])
})

t.test('catches two commits claiming one version, a commit without versions, and an outcome never learned', async (t) => {
  const ops = [...clean, op(3, 'committed', [['a', 'x3']], { a: 2 }), op(4, 'committed', [['c', 'z']]), op(5, 'unknown', [['d', 'w']]), op(6, 'failed', [['d', 'w']])]
  const v = checkHistory(ops, [replica('p1', cleanEntries)])
  t.match(v, [/ops 2 and 3 both committed a at version 2/, /op 4 committed without a version for c/, /op 5 \(c5\) never got a definite outcome/, /op 6/])
})

t.test('with no replica there is nothing to trust', async (t) => {
  t.same(checkHistory(clean, []), ['no replica to check'])
})

t.test('catches a key that no committed transaction wrote, and a committed key missing everywhere', async (t) => {
  t.match(checkHistory(clean, [replica('p1', { ...cleanEntries, ghost: { value: 'boo', version: 1 } })]), [/key ghost: replica at version 1, highest committed version 0/, /key ghost: version 1 was written by no committed transaction/])
  t.match(checkHistory(clean, [replica('p1', { a: cleanEntries.a })]), [/key b: replica at version 0, highest committed version 1/])
})
