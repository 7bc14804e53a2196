import { once } from 'node:events'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { Worker } from 'node:worker_threads'
import t, { type Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { Heartbeat } from '../../../../shared/io/net/heartbeat.ts'
import { socketPair } from '../../../helpers/socket-pair.ts'

/** A real WebSocket pair on 127.0.0.1 whose client end never answers a ping. */
const silentPair = async (t: Test) => socketPair(t, { autoPong: false })

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/** Blocks this process's event loop, as a GC pause or a starved CPU does. */
function stall(ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end) { /* busy */ }
}

/** A peer on its own event loop (a worker thread), so that it answers pings while this thread stalls. */
async function peerInWorker(t: Test): Promise<WebSocket> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const port = (wss.address() as AddressInfo).port
  const worker = new Worker(`const WebSocket = require(${JSON.stringify(createRequire(import.meta.url).resolve('ws'))}); new WebSocket('ws://127.0.0.1:${port}')`, { eval: true })
  const [server] = (await once(wss, 'connection')) as [WebSocket]
  t.teardown(async () => {
    server.terminate()
    await worker.terminate()
    await new Promise((ok) => { wss.close(ok) })
  })
  return server
}

t.test('a peer that answers pings keeps its link', async (t) => {
  const server = await peerInWorker(t)
  let missed = 0
  const beat = new Heartbeat(server, 150, () => { missed++ })
  t.teardown(() => { beat.stop() })
  await sleep(1000)
  t.equal(missed, 0, 'never judged missing over 6 beats')
})

t.test('a peer that never answers a ping is judged missing once, within two beats', async (t) => {
  const { server } = await silentPair(t)
  let missed = 0
  const started = Date.now()
  let judgedAfter = 0
  new Heartbeat(server, 50, () => { missed++; judgedAfter = Date.now() - started })
  await sleep(600)
  t.equal(missed, 1, 'judged once, then it stops beating')
  t.ok(judgedAfter >= 100 && judgedAfter < 3000, `judged after ${judgedAfter} ms: one beat sends the ping, the next finds no answer`)
})

t.test('any frame from the peer counts as an answer (a pong may wait behind a backlog)', async (t) => {
  const { client, server } = await silentPair(t)
  let missed = 0
  const beat = new Heartbeat(server, 150, () => { missed++ })
  server.on('message', () => { beat.heardFrom() })
  const talking = setInterval(() => { client.send('x') }, 15)
  t.teardown(() => { clearInterval(talking); beat.stop() })
  await sleep(1000)
  t.equal(missed, 0, 'a peer that sends frames but no pong is not dropped')
})

t.test('a stall of this process longer than a beat does not drop a peer whose pong came in meanwhile', async (t) => {
  // Node runs due timers before it reads sockets: after the stall the beat fires
  // while the pong sits unread in the kernel. The verdict must wait for the read.
  const server = await peerInWorker(t)
  let missed = 0
  let pings = 0
  const originalPing = server.ping.bind(server)
  server.ping = ((...args: Parameters<WebSocket['ping']>) => { pings++; originalPing(...args) }) as WebSocket['ping']
  const beat = new Heartbeat(server, 50, () => { missed++ })
  t.teardown(() => { beat.stop() })
  while (pings === 0) await sleep(1)
  stall(300)
  await sleep(30)
  t.equal(missed, 0, 'the pong read after the stall counts')
  stall(300)
  await sleep(200)
  t.equal(missed, 0, 'and again on the next stall')
})

t.test('stop ends the beats and cancels a verdict already scheduled', async (t) => {
  const { server } = await silentPair(t)
  let missed = 0
  let pings = 0
  const originalPing = server.ping.bind(server)
  server.ping = ((...args: Parameters<WebSocket['ping']>) => { pings++; originalPing(...args) }) as WebSocket['ping']
  const beat = new Heartbeat(server, 30, () => { missed++ })
  while (pings === 0) await sleep(1)
  // Due timers run in the order they expire: after the stall, the beat (due
  // first) finds no pong and schedules its verdict, then this stop runs.
  setTimeout(() => { beat.stop() }, 45)
  stall(100)
  await sleep(200)
  t.equal(missed, 0, 'no verdict after stop')
  t.equal(pings, 1, 'no ping after stop')
})
