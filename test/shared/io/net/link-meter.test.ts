import { once } from 'node:events'
import t from 'tap'
import { LinkMeter, linkMeter } from '../../../../shared/io/net/link-meter.ts'
import { Outbox } from '../../../../shared/io/net/outbox.ts'
import { socketPair } from '../../../helpers/socket-pair.ts'

t.test('counts frames and UTF-8 bytes per peer, whatever buffer shape ws delivered, and reconnects', async (t) => {
  const meter = new LinkMeter()
  meter.sent('p1', ['[1]', '["é"]'], 3)
  meter.received('p1', Buffer.from('abc'))
  meter.received('p1', new ArrayBuffer(5))
  meter.received('p2', [Buffer.from('ab'), Buffer.from('cde')])
  meter.reconnected('p2')
  const snapshot = meter.snapshot()
  t.same(snapshot, [
    ['p1', { messagesSent: 3, framesSent: 2, bytesSent: 3 + 6, framesReceived: 2, bytesReceived: 8, reconnects: 0 }],
    ['p2', { messagesSent: 0, framesSent: 0, bytesSent: 0, framesReceived: 1, bytesReceived: 5, reconnects: 1 }],
  ], 'é is two bytes; a fragmented message counts once, with all its bytes')
  snapshot[0]![1].framesSent = 99
  t.equal(meter.snapshot()[0]![1].framesSent, 2, 'a snapshot is a copy')
})

t.test('an outbox that names its peer counts what it sends in the process-wide meter', async (t) => {
  const { client, server } = await socketPair(t)
  const before = linkMeter.snapshot().find(([peer]) => peer === 'meter-test')?.[1].framesSent ?? 0
  const arrived = once(server, 'message')
  const outbox = new Outbox(() => client, undefined, { peer: 'meter-test' })
  outbox.push({ type: 'commit', txId: '1.1' })
  outbox.push({ type: 'commit', txId: '1.2' })
  const [data] = (await arrived) as [Buffer]
  const counted = linkMeter.snapshot().find(([peer]) => peer === 'meter-test')![1]
  t.same([counted.framesSent - before, counted.bytesSent, counted.messagesSent], [1, data.length, 2], 'one frame, its bytes, its two messages')
})
