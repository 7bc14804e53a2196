import t from 'tap'
import { messageLabel } from '../../../../shared/io/trace/message-label.ts'

t.test('a message is labelled the same at both ends, by what tells it apart', async (t) => {
  t.equal(messageLabel({ type: 'hello', participant: 'p1' }), undefined, 'hello: no transaction')
  t.equal(messageLabel({ type: 'admission', admitted: true }), undefined, 'admission: no transaction')
  t.equal(messageLabel({ type: 'read', reqId: 1, key: 'a' }), undefined, 'read: no transaction')
  t.equal(messageLabel({ type: 'readResult', reqId: 1, entry: null }), undefined, 'readResult: no transaction')
  t.same(messageLabel({ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'v' }] }), { txId: '1.1', label: 'prepare' }, 'no writes in the label')
  t.same(messageLabel({ type: 'vote', txId: '1.1', yes: true }), { txId: '1.1', label: 'vote yes' })
  t.same(messageLabel({ type: 'vote', txId: '1.1', yes: false, reason: { code: 'conflict', message: 'held' } }), { txId: '1.1', label: 'vote no (conflict)' })
  t.same(messageLabel({ type: 'vote', txId: '1.1', yes: false }), { txId: '1.1', label: 'vote no' })
  t.same(messageLabel({ type: 'phase1a', txId: '1.1', ballot: 7 }), { txId: '1.1', label: '1a b7' })
  t.same(messageLabel({ type: 'phase1b', txId: '1.1', ballot: 7, from: 'p2', accepted: {} }), { txId: '1.1', label: '1b b7', from: 'p2' })
  t.same(messageLabel({ type: 'phase1b', txId: '1.1', ballot: 7, from: 'p2', accepted: {}, promised: 9 }), { txId: '1.1', label: '1b b7 refused (b9)', from: 'p2' })
  t.same(messageLabel({ type: 'phase2a', txId: '1.1', ballot: 0, values: { p1: 'prepared' } }), { txId: '1.1', label: '2a b0 p1=prepared' })
  t.same(messageLabel({ type: 'phase2b', txId: '1.1', ballot: 7, from: 'p3', values: { p2: 'aborted', p1: 'prepared' } }), { txId: '1.1', label: '2b b7 p1,p2=prepared,aborted', from: 'p3' }, 'instances sorted by name')
  t.same(messageLabel({ type: 'outcome', txId: '1.1', from: 'coordinator', outcome: 'committed' }), { txId: '1.1', label: 'outcome committed', from: 'coordinator' })
  t.same(messageLabel({ type: 'resolved', txId: '1.1', from: 'p1', outcome: 'aborted', ask: true }), { txId: '1.1', label: 'resolved?', from: 'p1' })
  t.same(messageLabel({ type: 'resolved', txId: '1.1', from: 'p1', outcome: 'aborted', ask: false }), { txId: '1.1', label: 'resolved', from: 'p1' })
  t.same(messageLabel({ type: 'statusResult', reqId: 2, txId: '1.1', state: 'prepared' }), { txId: '1.1', label: 'status prepared' })
  for (const type of ['commit', 'abort', 'ack', 'query'] as const) {
    t.same(messageLabel({ type, txId: '1.1' }), { txId: '1.1', label: type }, `${type}: its type`)
  }
  t.same(messageLabel({ type: 'statusQuery', reqId: 3, txId: '1.1' }), { txId: '1.1', label: 'statusQuery' })
})
