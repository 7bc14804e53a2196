import t from 'tap'
import { accept, copyRecord, newAcceptorRecord, promise } from '../../../../shared/core/paxos/acceptor.ts'

const instances = ['p1', 'p2', 'p3']

t.test('an acceptor promises only higher ballots, and accepts none below its promise', async (t) => {
  const r = newAcceptorRecord('1.1')
  t.equal(accept(r, 0, { p1: 'prepared' }, instances), true, 'ballot 0 before any promise')
  t.same(r.accepted.p1, { ballot: 0, value: 'prepared' })
  t.equal(promise(r, 5), 'promised')
  t.equal(promise(r, 5), 'repeat')
  t.equal(promise(r, 3), 'stale')
  t.equal(accept(r, 0, { p2: 'prepared' }, instances), false, "p2's ballot 0 comes too late")
  t.equal(r.accepted.p2, undefined)
  t.equal(accept(r, 5, { p1: 'prepared', p2: 'aborted', p3: 'aborted', px: 'prepared' }, instances), true)
  t.same(Object.keys(r.accepted).sort(), ['p1', 'p2', 'p3'], 'an instance that is not a participant is ignored')
  t.equal(r.promised, 5)
  t.equal(accept(r, 9, { p2: 'prepared' }, instances), true, 'a higher accept raises the promise')
  t.equal(r.promised, 9)
})

t.test('a copy shares nothing with the record', async (t) => {
  const r = newAcceptorRecord('1.1')
  accept(r, 0, { p1: 'prepared' }, instances)
  const c = copyRecord(r)
  accept(r, 4, { p1: 'aborted' }, instances)
  t.same(c, { txId: '1.1', promised: 0, accepted: { p1: { ballot: 0, value: 'prepared' } } })
  t.equal(Object.getPrototypeOf(c.accepted), null, 'keyed by names: no prototype')
})
