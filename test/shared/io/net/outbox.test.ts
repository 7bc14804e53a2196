import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { decodeToParticipant } from '../../../../shared/core/protocol/codec.ts'
import { limits } from '../../../../shared/core/protocol/messages.ts'
import { splitFrames } from '../../../../shared/io/net/frames.ts'
import { Outbox } from '../../../../shared/io/net/outbox.ts'

/** A real WebSocket pair on 127.0.0.1: the client end sends, the server end collects what arrives. */
async function socketPair(t: Test): Promise<{ client: WebSocket; server: WebSocket; frames: string[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: limits.maxFrameBytes })
  await once(wss, 'listening')
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`)
  const [server] = (await once(wss, 'connection')) as [WebSocket]
  await once(client, 'open')
  const frames: string[] = []
  server.on('message', (data: Buffer) => { frames.push(data.toString()) })
  t.teardown(async () => {
    client.terminate()
    server.terminate()
    await new Promise((ok) => { wss.close(ok) })
  })
  return { client, server, frames }
}

const until = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((ok) => setTimeout(ok, 5))
}

t.test('what one turn produces leaves as few frames as the limits allow, each one the receiver accepts, in order', async (t) => {
  const { client, frames } = await socketPair(t)
  const outbox = new Outbox(() => client)
  const count = limits.maxMessagesPerFrame * 2 + 10
  for (let i = 0; i < count; i++) outbox.push({ type: 'commit', txId: `1.${i}` })
  await until(() => frames.length === 3)
  t.same(frames.map((f) => (JSON.parse(f) as unknown[]).length), [limits.maxMessagesPerFrame, limits.maxMessagesPerFrame, 10], 'split by message count')
  const decoded = frames.map((f) => decodeToParticipant(f))
  t.ok(decoded.every((d) => d.ok && d.refused.length === 0), 'every frame passes the receiver\'s codec')
  t.same(decoded.flatMap((d) => (d.ok ? d.messages.map((m) => (m as { txId: string }).txId) : [])), Array.from({ length: count }, (_, i) => `1.${i}`), 'in order')
  t.equal(outbox.framesSent, 3)
  t.equal(outbox.messagesSent, count)
})

t.test('frames are split by bytes of UTF-8, not by characters', async (t) => {
  // 3 million é: 3 MB of characters, 6 MB of bytes. Two of them fit in 8 MiB of characters, not of bytes.
  const value = 'é'.repeat(3_000_000)
  const frames = splitFrames([{ type: 'prepare', txId: '1.1', writes: [{ key: 'a', value }] }, { type: 'prepare', txId: '1.2', writes: [{ key: 'b', value }] }])
  t.equal(frames.length, 2)
  t.ok(frames.every((f) => Buffer.byteLength(f) <= limits.maxFrameBytes), 'each frame within maxFrameBytes bytes')
  const small = splitFrames(Array.from({ length: 5 }, (_, i) => ({ type: 'ack', txId: `${i}` })), { maxMessagesPerFrame: 100, maxFrameBytes: 60 })
  t.ok(small.length > 1 && small.every((f) => Buffer.byteLength(f) <= 60), `small frames: ${small.join(' ')}`)
  t.same(small.flatMap((f) => JSON.parse(f) as unknown[]).length, 5)
  t.same(splitFrames([]), [])
  t.throws(() => splitFrames([{ type: 'ack', txId: 'x'.repeat(100) }], { maxMessagesPerFrame: 10, maxFrameBytes: 50 }), { name: 'InvariantViolation', message: /^a message of 124 bytes \(\{"type":"ack".*fits in no frame of 50$/ })
})

t.test('a peer that does not read is cut off once too much waits in the send buffer', async (t) => {
  const { client, server } = await socketPair(t)
  ;(server as unknown as { _socket: { pause: () => void } })._socket.pause() // the receiver stops reading
  const lines: string[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line) } })
  const outbox = new Outbox(() => client, logger, { maxBufferedBytes: 1024 * 1024 })
  const value = 'x'.repeat(200 * 1024)
  const closed = once(client, 'close')
  for (let turn = 0; turn < 200 && client.readyState === WebSocket.OPEN; turn++) {
    outbox.push({ type: 'prepare', txId: `1.${turn}`, writes: [{ key: 'k', value }] })
    outbox.flush()
    await new Promise((ok) => setImmediate(ok))
  }
  await closed
  t.match(lines.join(''), /the peer does not read what is sent; dropping its connection/)
  t.notOk(outbox.push({ type: 'commit', txId: '1.1' }), 'nothing is queued for a closed socket')
  outbox.flush()
  t.pass('flushing with nothing to send, to a closed socket, does nothing')
})
