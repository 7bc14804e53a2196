import t from 'tap'
import { buildFlow, type NodeTrace } from '../../../../shared/io/trace/flow.ts'
import type { TraceEvent } from '../../../../shared/io/trace/trace-ring.ts'

const node = (name: string, role: NodeTrace['role'], offsetUs: number, events: TraceEvent[], extra: Partial<NodeTrace> = {}): NodeTrace => ({
  node: name, role, offsetUs, uncertaintyUs: offsetUs === 0 ? 0 : 50, alignment: offsetUs === 0 ? 'self' : 'estimated', events, ...extra,
})

t.test('sends paired with receives, in order, on the gatherer\'s clock', async (t) => {
  // p1's clock runs 1,000 µs ahead of the coordinator's.
  const flow = buildFlow('1.1', [
    node('coordinator', 'coordinator', 0, [
      { atUs: 100, kind: 'request', msg: 'POST /v1/transactions' },
      { atUs: 110, kind: 'send', msg: 'prepare', peer: 'p1' },
      { atUs: 120, kind: 'send', msg: 'prepare', peer: 'p1' },
      { atUs: 300, kind: 'recv', msg: 'vote yes', peer: 'p1' },
      { atUs: 310, kind: 'write', msg: 'commit-decision', sync: true, token: 1 },
      { atUs: 400, kind: 'durable', msg: 'commit-decision', sync: true, token: 1 },
      { atUs: 410, kind: 'answer', msg: 'committed' },
      { atUs: 420, kind: 'timer', msg: 'vote timer' },
    ]),
    node('p1', 'participant', 1000, [
      { atUs: 1150, kind: 'recv', msg: 'prepare', peer: 'coordinator' },
      { atUs: 1160, kind: 'recv', msg: 'prepare', peer: 'coordinator' },
      { atUs: 1170, kind: 'write', msg: 'prepare', sync: true, token: 9 },
      { atUs: 1200, kind: 'send', msg: 'vote yes', peer: 'coordinator' },
      { atUs: 1210, kind: 'recv', msg: '2a b0 p2=prepared' },
    ]),
  ])
  t.equal(flow.originUs, 100)
  t.equal(flow.spanUs, 320)
  t.same(flow.nodes.map((n) => n.node), ['coordinator', 'p1'])
  t.notOk('events' in flow.nodes[0]!, 'no raw events in the flow')
  t.same(flow.messages, [
    { label: 'prepare', from: 'coordinator', to: 'p1', sentUs: 10, receivedUs: 50 },
    { label: 'prepare', from: 'coordinator', to: 'p1', sentUs: 20, receivedUs: 60 },
    { label: 'vote yes', from: 'p1', to: 'coordinator', sentUs: 100, receivedUs: 200 },
    { label: '2a b0 p2=prepared', from: '?', to: 'p1', sentUs: null, receivedUs: 110 },
  ], 'the k-th send with the k-th receive; a receive whose send is not traced stands alone')
  t.same(flow.writes, [
    { node: 'p1', kind: 'prepare', sync: true, startUs: 70, doneUs: null },
    { node: 'coordinator', kind: 'commit-decision', sync: true, startUs: 210, doneUs: 300 },
  ], 'a write never durable has no end')
  t.same(flow.marks, [
    { node: 'coordinator', kind: 'request', label: 'POST /v1/transactions', atUs: 0 },
    { node: 'coordinator', kind: 'answer', label: 'committed', atUs: 310 },
    { node: 'coordinator', kind: 'timer', label: 'vote timer', atUs: 320 },
  ])
})

t.test('an unnamed receive takes the earliest unpaired send to it; a lost send stays unreceived', async (t) => {
  const flow = buildFlow('1.2', [
    node('p1', 'participant', 0, [
      { atUs: 10, kind: 'send', msg: '2a b0 p1=prepared', peer: 'p2' },
      { atUs: 11, kind: 'send', msg: '2a b0 p1=prepared', peer: 'p3' },
      { atUs: 12, kind: 'send', msg: 'ack' },
      { atUs: 12, kind: 'drop', msg: 'ack', peer: 'p2' },
      { atUs: 12, kind: 'drop', msg: 'ack' },
      { atUs: 13, kind: 'durable', msg: 'stray', sync: false, token: 3 },
    ]),
    node('p2', 'participant', 0, [{ atUs: 5, kind: 'recv', msg: 'outcome committed', peer: 'p3' }, { atUs: 30, kind: 'recv', msg: '2a b0 p1=prepared' }, { atUs: 40, kind: 'recv', msg: 'resolved?', peer: 'p3' }], { alignment: 'shared-clock', uncertaintyUs: 20 }),
    node('p3', 'participant', 0, [], { error: 'no answer within 2000 ms' }),
  ])
  t.same(flow.messages, [
    { label: 'outcome committed', from: 'p3', to: 'p2', sentUs: null, receivedUs: 0 },
    { label: '2a b0 p1=prepared', from: 'p1', to: 'p2', sentUs: 5, receivedUs: 25 },
    { label: '2a b0 p1=prepared', from: 'p1', to: 'p3', sentUs: 6, receivedUs: null },
    { label: 'ack', from: 'p1', to: '?', sentUs: 7, receivedUs: null },
    { label: 'ack', from: 'p1', to: 'p2', sentUs: 7, receivedUs: null, dropped: true },
    { label: 'ack', from: 'p1', to: '?', sentUs: 7, receivedUs: null, dropped: true },
    { label: 'resolved?', from: 'p3', to: 'p2', sentUs: null, receivedUs: 35 },
  ])
  t.same(flow.writes, [], 'a durable without its write is dropped')
  t.match(flow.nodes[2], { node: 'p3', error: /no answer/ })
})

t.test('no events at all: an empty flow', async (t) => {
  t.same(buildFlow('9.9', [node('coordinator', 'coordinator', 0, [])]), { txId: '9.9', nodes: [{ node: 'coordinator', role: 'coordinator', offsetUs: 0, uncertaintyUs: 0, alignment: 'self' }], messages: [], writes: [], marks: [], originUs: 0, spanUs: 0 })
})
