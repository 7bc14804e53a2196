import t from 'tap'
import { EVENTS_PER_TXN_BUDGET, MAX_EVENTS_PER_TXN, MAX_TRACE_TXNS, monotonicUs, TraceRing } from '../../../../shared/io/trace/trace-ring.ts'

t.test('capacity: 0 is off, at most MAX_TRACE_TXNS, an integer', async (t) => {
  for (const bad of [-1, 1.5, MAX_TRACE_TXNS + 1, Number.NaN]) t.throws(() => new TraceRing(bad), RangeError, `${bad} refused`)
  const off = new TraceRing(0)
  t.equal(off.enabled, false)
  off.add('1.1', { kind: 'request', msg: 'POST' })
  off.message('send', { type: 'commit', txId: '1.1' }, 'p1')
  off.persist({ type: 'persist', token: 1, ops: [], sync: true, kind: 'apply', txId: '1.1' }, false)
  off.timer({ kind: 'vote', txId: '1.1' })
  t.equal(off.size, 0, 'off keeps nothing')
  t.same(off.get('1.1'), [])
  t.equal(new TraceRing(MAX_TRACE_TXNS).enabled, true)
})

t.test('the last `capacity` transactions, by first event; a copy of each', async (t) => {
  const ring = new TraceRing(2)
  ring.add('a', { kind: 'request', msg: 'POST' }, 5)
  ring.add('b', { kind: 'request', msg: 'POST' })
  ring.add('a', { kind: 'answer', msg: 'committed' })
  ring.add('c', { kind: 'request', msg: 'POST' })
  t.equal(ring.size, 2)
  t.same(ring.get('a'), [], 'the oldest evicted, though it had a later event')
  const b = ring.get('b')
  b.push({ atUs: 0, kind: 'timer', msg: 'x' })
  t.equal(ring.get('b').length, 1, 'get returns a copy')
  t.same(ring.recent(10).map((r) => r.txId), ['c', 'b'], 'most recent first')
  t.same(ring.recent(1).map((r) => r.txId), ['c'], 'at most limit')
  ring.add('c', { kind: 'answer', msg: 'aborted' })
  t.match(ring.recent(1)[0], { txId: 'c', events: 2, answer: 'aborted' })
  t.notOk('answer' in ring.recent(2)[1]!, 'no answer: none given')
  const early = new TraceRing(1)
  early.add('x', { kind: 'request', msg: 'POST' }, 42)
  t.equal(early.get('x')[0]!.atUs, 42, 'a given time is kept')
  t.ok(monotonicUs() > 0)
})

t.test('at most MAX_EVENTS_PER_TXN events per transaction; the rest counted', async (t) => {
  const ring = new TraceRing(1)
  for (let i = 0; i < MAX_EVENTS_PER_TXN + 3; i++) ring.add('1.1', { kind: 'timer', msg: `${i}` })
  t.equal(ring.get('1.1').length, MAX_EVENTS_PER_TXN)
  t.equal(ring.truncated, 3)
})

t.test('messages, persists and timers become events of their transaction', async (t) => {
  const ring = new TraceRing(10)
  ring.message('send', { type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'v' }] }, 'p1')
  ring.message('recv', { type: 'vote', txId: '1.1', yes: true }, 'p1')
  ring.message('recv', { type: 'phase2b', txId: '1.1', ballot: 0, from: 'p2', values: { p2: 'prepared' } }, undefined)
  ring.message('recv', { type: 'phase2a', txId: '1.1', ballot: 0, values: { p3: 'prepared' } }, undefined)
  ring.message('send', { type: 'ack', txId: '1.1' }, undefined)
  ring.message('drop', { type: 'commit', txId: '1.1' }, 'p3', 7)
  ring.message('recv', { type: 'hello', participant: 'p1' }, 'p1')
  ring.persist({ type: 'persist', token: 4, ops: [], sync: true, kind: 'commit-decision', txId: '1.1' }, false)
  ring.persist({ type: 'persist', token: 4, ops: [], sync: true, kind: 'commit-decision', txId: '1.1' }, true)
  ring.persist({ type: 'persist', token: 5, ops: [], sync: false, kind: 'gc' }, true)
  ring.timer({ kind: 'vote', txId: '1.1' })
  ring.timer({ kind: 'gc' })
  const events = ring.get('1.1').map(({ atUs: _, ...e }) => e)
  t.same(events, [
    { kind: 'send', msg: 'prepare', peer: 'p1' },
    { kind: 'recv', msg: 'vote yes', peer: 'p1' },
    { kind: 'recv', msg: '2b b0 p2=prepared', peer: 'p2' },
    { kind: 'recv', msg: '2a b0 p3=prepared' },
    { kind: 'send', msg: 'ack' },
    { kind: 'drop', msg: 'commit', peer: 'p3' },
    { kind: 'write', msg: 'commit-decision', sync: true, token: 4 },
    { kind: 'durable', msg: 'commit-decision', sync: true, token: 4 },
    { kind: 'timer', msg: 'vote timer' },
  ])
  t.equal(ring.size, 1, 'hello, a gc batch and the gc timer belong to no transaction')
})

t.test('at most capacity × EVENTS_PER_TXN_BUDGET events in all: the oldest transactions go first, never the one written to', async (t) => {
  const ring = new TraceRing(2)
  const budget = 2 * EVENTS_PER_TXN_BUDGET
  for (let i = 0; i < EVENTS_PER_TXN_BUDGET; i++) ring.add('a', { kind: 'timer', msg: `${i}` })
  for (let i = 0; i < EVENTS_PER_TXN_BUDGET; i++) ring.add('b', { kind: 'timer', msg: `${i}` })
  t.equal(ring.size, 2, 'within the budget: both kept')
  ring.add('b', { kind: 'timer', msg: 'one more' })
  t.same(ring.recent(5).map((r) => r.txId), ['b'], 'one event over it: the oldest transaction is evicted')
  for (let i = 0; i < MAX_EVENTS_PER_TXN; i++) ring.add('c', { kind: 'timer', msg: `${i}` })
  t.same(ring.recent(5).map((r) => r.txId), ['c'], 'a transaction alone may hold more than the budget (up to its own cap)')
  t.ok(MAX_EVENTS_PER_TXN > budget / 2)
  ring.add('d', { kind: 'timer', msg: 'x' })
  t.same(ring.recent(5).map((r) => r.txId), ['d'], 'and goes once another needs the room')
})
