import t from 'tap'
import { planCoordinatorRecovery } from '../../../shared/core/coordinator/recovery.ts'
import { planParticipantRecovery } from '../../../shared/core/participant/recovery.ts'
import { CorruptRecordError } from '../../../shared/core/protocol/record-reader.ts'

const prepared = { txId: '1.1', writes: [{ key: 'a', value: 'x' }], versions: { a: 1 }, preparedAt: 5 }
const decision = { txId: '1.1', writesHash: 7, keys: ['a'], outcome: 'committed', versions: { a: 1 }, createdAt: 1, decidedAt: 2, ended: false }

t.test('a participant recovers what it wrote: entries, PREPARED records, resolved markers oldest first', async (t) => {
  const plan = planParticipantRecovery([
    ['kv/a', { value: 'x', version: 2 }],
    ['prep/1.1', prepared],
    ['done/1.3', { txId: '1.3', outcome: 'aborted', at: 9 }],
    ['done/1.2', { txId: '1.2', outcome: 'committed', at: 3 }],
    ['meta/replica', { id: 'r', origin: 'empty', createdAt: 1, admitted: true }],
  ])
  t.same(plan.entries, [['a', { value: 'x', version: 2 }]], 'the replica identity (meta/) is the adapter\'s: passed by')
  t.same(plan.prepared, [prepared])
  t.same(plan.resolved.map((r) => r.txId), ['1.2', '1.3'])
})

t.test('a corrupt participant record stops recovery with an error naming its key', async (t) => {
  const corrupt: [string, unknown, RegExp][] = [
    ['kv/a', { value: 'x', version: {} }, /^corrupt record at key "kv\/a": \/version must be integer/],
    ['kv/b', { value: 'x', version: 0 }, /"kv\/b": \/version must be >= 1/],
    ['kv/c', 'just a string', /"kv\/c": \/ must be object/],
    ['prep/1.1', { ...prepared, versions: { a: 'one' } }, /"prep\/1\.1": \/versions\/a must be integer/],
    ['prep/1.1', { ...prepared, writes: [] }, /"prep\/1\.1": \/writes must not have fewer than 1 items/],
    ['prep/1.9', prepared, /"prep\/1\.9": the record names transaction 1\.1, whose key is "prep\/1\.1"/],
    ['done/1.2', { txId: '1.2', outcome: 'maybe', at: 3 }, /"done\/1\.2": \/outcome/],
    ['tx/1.1', decision, /"tx\/1\.1": no participant record lives under this key/],
  ]
  for (const [key, value, message] of corrupt) {
    t.throws(() => planParticipantRecovery([[key, value]]), { name: 'CorruptRecordError', key, message }, key)
  }
  t.ok(new CorruptRecordError('k', 'why').message.endsWith('the node stops rather than trust it (restore the data directory or remove the record)'))
})

t.test('the coordinator recovers its epochs and decision records, and refuses a corrupt one naming its key', async (t) => {
  const plan = planCoordinatorRecovery([['epoch/0000000003', { epoch: 3, startedAt: 1 }], ['meta/member/p1', { participant: 'p1', replicaId: 'r', admittedAt: 1 }], ['tx/1.1', decision]], 10)
  t.equal(plan.start.epoch, 4, 'a member record (meta/) is the adapter\'s: passed by')
  t.same(plan.epochOp, { type: 'put', key: 'epoch/0000000004', value: { epoch: 4, startedAt: 10 } })
  t.same(plan.start.records, [decision])
  const corrupt: [string, unknown, RegExp][] = [
    ['epoch/0000000003', { epoch: '3', startedAt: 1 }, /"epoch\/0000000003": \/epoch must be integer/],
    ['epoch/0000000009', { epoch: 3, startedAt: 1 }, /"epoch\/0000000009": the record belongs under "epoch\/0000000003"/],
    ['tx/1.1', { ...decision, outcome: 'perhaps' }, /"tx\/1\.1": \/outcome/],
    ['tx/1.1', { ...decision, reasons: [{ participant: 'p1', code: 'no_such_reason', message: 'm' }] }, /"tx\/1\.1": \/reasons\/0\/code/],
    ['tx/1.2', decision, /"tx\/1\.2": the record belongs under "tx\/1\.1"/],
    ['kv/a', { value: 'x', version: 1 }, /"kv\/a": no coordinator record lives under this key/],
  ]
  for (const [key, value, message] of corrupt) {
    t.throws(() => planCoordinatorRecovery([[key, value]], 10), { name: 'CorruptRecordError', key, message }, key)
  }
})
