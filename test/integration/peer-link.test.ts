import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'
import { freePort, nodeArgs, probe, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, LocalCluster, startCluster, submit, waitSettled } from '../helpers/cluster.ts'
import { PeerClient } from '../helpers/peer-client.ts'
import { nodeLogText } from '../helpers/node-log.ts'

const TOKEN = 'peer-link-test-token'

/** One participant process and no coordinator: the test plays the coordinator. */
async function lonelyParticipant(t: Test): Promise<{ cluster: LocalCluster; url: string; status: () => Promise<Record<string, number>> }> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-peer-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 1, token: TOKEN, env: { LOG_LEVEL: 'debug', READ_WAIT_MS: '20000' } })
  t.teardown(async () => {
    await cluster.stopAll()
    rmSync(dataRoot, { recursive: true, force: true })
  })
  await cluster.start('p1')
  const url = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer`
  return { cluster, url, status: async () => (await http<Record<string, number>>(`${cluster.urlOf('p1')}/v1/status`)).body }
}

const isHello = (m: { type: string }): boolean => m.type === 'hello'
const readResultOf = (reqId: number) => (m: Record<string, unknown>): boolean => m.type === 'readResult' && m.reqId === reqId

t.test('a participant never sends on one connection what was asked on another, and refuses bad messages one by one', async (t) => {
  const { url, status } = await lonelyParticipant(t)
  // A: a coordinator that stops answering pings (frozen, or its machine died without closing the socket).
  const a = (await PeerClient.open(url, TOKEN, { autoPong: false })).client!
  await a.next(isHello)
  a.send([{ type: 'prepare', txId: '9.1', writes: [{ key: 'k', value: 'x' }] }])
  await a.next((m) => m.type === 'vote' && m.txId === '9.1')
  a.send([{ type: 'read', reqId: 1, key: 'k' }]) // waits: k is held by the prepared 9.1

  const opened = await PeerClient.open(url, TOKEN)
  t.equal(opened.status, 101, 'a link that does not answer its ping gives way to a new connection')
  const b = opened.client!
  await b.next(isHello)
  t.match(b.frames[0]?.[0], { type: 'hello', participant: 'p1', replica: { origin: 'empty' } }, 'the new link starts with its hello, naming its replica')
  t.same(b.frames[0]?.slice(1), [{ type: 'query', txId: '9.1' }], 'followed only by what the new link is for: the in-doubt query')
  b.send([{ type: 'abort', txId: '9.1' }, { type: 'read', reqId: 2, key: 'k' }])
  await b.next(readResultOf(2))
  t.notOk(b.messages.some(readResultOf(1)), 'the read asked on the old link is not answered on the new one')

  // One invalid message beside a valid one: the valid one is still handled.
  b.send([{ type: 'read', reqId: 'three', key: 'k' }, { type: 'read', reqId: 3, key: 'k' }])
  t.match(await b.next(readResultOf(3), 5000), { entry: null }, 'the valid message of a mixed frame is answered')
  for (const frame of ['not json', '{"type":"prepare"}', '[]', '[{"type":"prepare","txId":"x"}]', '[{"type":"launch-missiles"}]']) b.sendRaw(frame)
  b.ws.send(Buffer.from([1, 2, 3]), { binary: true })
  await waitFor(async () => (await status()).refusedFrames === 4, 5000, 'four whole frames refused')
  b.send([{ type: 'read', reqId: 4, key: 'k' }])
  await b.next(readResultOf(4), 5000)
  t.match(await status(), { refusedMessages: 3, refusedFrames: 4 }, 'three messages and four frames refused, each counted; the link still answers')
  await a.close()
  await b.close()
})

t.test('clients that reset their connection while the participant refuses their upgrade do not stop it', async (t) => {
  // The fresh-clone CI of 0a044f8 (and an earlier run on record) saw a participant stop on an uncaught
  // ECONNRESET: a refused peer socket had no 'error' listener. Here: 200 upgrades without the token, each reset
  // (RST) right after its request is sent.
  const { cluster } = await lonelyParticipant(t)
  const port = cluster.spec('p1').port
  const request = `GET /v1/peer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${Buffer.alloc(16, 1).toString('base64')}\r\n\r\n`
  for (let i = 0; i < 200; i++) {
    await new Promise<void>((done) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(request, () => {
          socket.resetAndDestroy()
          done()
        })
      })
      socket.on('error', () => { done() })
    })
  }
  await new Promise((ok) => setTimeout(ok, 500))
  t.ok(cluster.isRunning('p1'), 'p1 still runs')
  t.equal((await http(`${cluster.urlOf('p1')}/healthz`)).status, 200, 'and answers')
  t.notMatch(nodeLogText(cluster.options.dataRoot, 'p1'), /uncaught/, 'nothing uncaught in its log')
})

t.test('a healthy coordinator link is not displaced: a second connection with the token is refused with 409 peer_busy', async (t) => {
  const cluster = await startCluster(t, { token: TOKEN })
  const url = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer`
  const intruder = await PeerClient.open(url, TOKEN)
  t.match(intruder, { status: 409, body: { error: 'peer_busy', message: /healthy coordinator link/ } })
  t.equal((await http(`${cluster.url}/readyz`)).status, 200, 'the coordinator stays connected')
  t.match((await http(`${cluster.urlOf('p1')}/v1/status`)).body, { refusedConnections: 1 })
  t.match((await submit(cluster, [{ key: 'after-intruder', value: '1' }])).body, { outcome: 'committed' })
})

t.test('after a burst of generated frames from a peer holding the token, the coordinator link is up and commits go on', async (t) => {
  const cluster = await startCluster(t, { token: TOKEN })
  const hostile = ['__proto__', 'constructor', 'toString']
  t.match((await submit(cluster, hostile.map((key) => ({ key, value: 'v' })))).body, { outcome: 'committed' })
  await waitSettled(cluster)
  const url = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer`
  // The frames of the original report: reads of hostile keys, garbage, messages of the wrong direction, in bursts,
  // from a peer that keeps reconnecting (under the old code each connection displaced the coordinator's).
  let sent = 0
  for (let round = 0; round < 30; round++) {
    const { client } = await PeerClient.open(url, TOKEN)
    if (client) {
      // Streamed over ~200 ms, so that the coordinator's re-dial lands among them.
      for (let i = 0; i < 100; i++, sent++) {
        const key = hostile[i % hostile.length]!
        if (i % 4 === 0) client.sendRaw('{"type":')
        else if (i % 4 === 1) client.send([{ type: 'vote', txId: '1.1', yes: true }])
        else client.send([{ type: 'read', reqId: round * 1000 + i, key }, { type: 'read', reqId: -1, key }])
        if (i % 5 === 4) await new Promise((ok) => setTimeout(ok, 10))
      }
      await client.close()
    } else {
      sent += 100
    }
  }
  t.equal(sent, 3000)
  await cluster.waitReady(15000)
  t.equal((await http(`${cluster.url}/readyz`)).status, 200, 'every participant is connected and ready')
  const after = await submit(cluster, [{ key: 'after-burst', value: '1' }])
  t.match(after.body, { outcome: 'committed' }, 'a transaction commits')
  const read = await http(`${cluster.url}/v1/keys/__proto__`)
  t.same(Object.entries(read.body), [['key', '__proto__'], ['value', 'v'], ['version', 1]], 'the hostile key reads back')
})

t.test('the coordinator closes and re-dials a link with no hello, and takes the valid messages of a frame that also carries a bad one', async (t) => {
  const port = await freePort()
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  const connections: WebSocket[] = []
  wss.on('connection', (ws) => {
    connections.push(ws)
    // The first connection never says hello. The second says it in a frame whose first message is invalid
    // (a read answer with a version that is an object, as the __proto__ bug produced).
    if (connections.length >= 2) ws.send(JSON.stringify([{ type: 'readResult', reqId: 1, entry: { value: 'x', version: {} } }, { type: 'hello', participant: 'p1' }]))
  })
  const dataDir = mkdtempSync(join(tmpdir(), 'txn-link-'))
  const httpPort = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, CLUSTER_TOKEN: TOKEN, DATA_DIR: dataDir, COORDINATOR_PORT: String(httpPort), PARTICIPANTS: `p1=ws://127.0.0.1:${port}/v1/peer`, LOG_LEVEL: 'warn' }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, nodeArgs('coordinator'), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  child.stdout.on('data', (chunk: Buffer) => { log += chunk.toString() })
  t.teardown(async () => {
    const exited = new Promise((ok) => child.once('exit', ok))
    child.kill('SIGKILL')
    await exited
    await new Promise((ok) => { wss.close(ok) })
    rmSync(dataDir, { recursive: true, force: true })
  })
  const url = `http://127.0.0.1:${httpPort}`
  await waitFor(async () => connections.length >= 2, 15000, 'the coordinator to dial again after no hello came')
  await waitFor(async () => (await probe(`${url}/readyz`)) === 200, 10000, 'the coordinator to be ready')
  t.pass('a link with no hello was closed and dialled again; the hello beside an invalid message made it ready')
  // The log lines come through a pipe: wait for them rather than race them.
  await waitFor(async () => log.includes('refused a malformed message; the rest of its frame is handled'), 10000, 'the refusal to be logged')
  t.match(log, /participant sent no hello in time/)
  t.match(log, /refused a malformed message; the rest of its frame is handled/)
})
