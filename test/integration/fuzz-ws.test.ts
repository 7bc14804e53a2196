import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import { WebSocketServer, type WebSocket } from 'ws'
import { refusedFrames, type FuzzFrame } from '../../scripts/lib/fuzz-ws.ts'
import { waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, startCluster, submit } from '../helpers/cluster.ts'
import { nodeLogText } from '../helpers/node-log.ts'
import { PeerClient } from '../helpers/peer-client.ts'

/**
 * Generated frames (fast-check, seeded) into each side of a peer link, every
 * one of them a frame the receiver's codec must refuse: the receiver must
 * count exactly those refusals, change nothing, and keep the connection. A
 * frame over the size limit is not survivable (ws closes with 1009): it must
 * be logged clearly, and the link must come back.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20261201)
const count = Number(process.env.FUZZ_FRAMES ?? 10_000)
const PROBE_EVERY = 1000

function expected(frames: readonly FuzzFrame[]): { frames: number; messages: number } {
  return { frames: frames.filter((f) => f.refusedFrame).length, messages: frames.reduce((n, f) => n + f.refusedMessages, 0) }
}

const logOf = nodeLogText

t.test(`${count} refused frames into a participant's peer port (seed ${seed}): counted exactly, no state change, the connection survives`, async (t) => {
  // Generated before any link is open: generating and classifying 10,000 frames takes this process seconds of CPU,
  // during which it would answer no ping, and the receiver drops a peer that misses its heartbeat.
  const frames = refusedFrames('participant', seed, count)
  const want = expected(frames)
  const cluster = await startCluster(t, { participants: 1, env: { LOG_LEVEL: 'info' } })
  await cluster.kill('coordinator')
  const port = cluster.spec('p1').port
  await waitFor(async () => !(await http<{ coordinatorConnected: boolean }>(`${cluster.urlOf('p1')}/readyz`)).body.coordinatorConnected, 30_000, 'p1 to see the coordinator gone')
  const opened = await PeerClient.open(`ws://127.0.0.1:${port}/v1/peer`, cluster.token)
  const client = opened.client!
  await client.next((m) => m.type === 'hello')
  let closed = false
  client.ws.on('close', () => { closed = true })

  t.comment(`${want.frames} frames refused whole, ${want.messages} messages refused inside frames`)
  t.ok(want.frames > count / 10 && want.messages > count / 2, 'both kinds of refusal are exercised')
  let probes = 0
  const probe = async (): Promise<void> => {
    const txId = `probe.${++probes}`
    // A key of its own: the previous probe's abort may still be being written (and holds its key until then).
    client.send([{ type: 'prepare', txId, writes: [{ key: `probe-${probes}`, value: 'v' }] }])
    await client.next((m) => m.type === 'vote' && m.txId === txId, 30_000)
    client.send([{ type: 'abort', txId }])
  }
  for (const [i, frame] of frames.entries()) {
    client.ws.send(frame.data, { binary: typeof frame.data !== 'string' })
    if ((i + 1) % PROBE_EVERY === 0) await probe()
  }
  await probe()
  t.notOk(closed, 'the connection survived every refused frame')
  t.match(client.messages.filter((m) => m.type === 'vote'), Array.from({ length: probes }, () => ({ yes: true })), 'each probe between the frames was prepared and voted YES')

  await waitFor(async () => (await http<{ refusedFrames: number; refusedMessages: number; prepared: number }>(`${cluster.urlOf('p1')}/v1/status`)).body.prepared === 0, 30_000, 'the last probe to be aborted')
  const status = (await http<{ refusedFrames: number; refusedMessages: number; keys: number; remembered: number }>(`${cluster.urlOf('p1')}/v1/status`)).body
  t.equal(status.refusedFrames, want.frames, 'every frame refused whole was counted as such')
  t.equal(status.refusedMessages, want.messages, 'every message refused inside a frame was counted')
  t.equal(status.keys, 0, 'no key was written')
  t.equal(status.remembered, probes, 'the only transactions it knows of are the probes')
  const replica = (await http<{ entries: object; prepared: string[]; locks: number }>(`${cluster.urlOf('p1')}/v1/replica`)).body
  t.same({ entries: replica.entries, prepared: replica.prepared, locks: replica.locks }, { entries: {}, prepared: [], locks: 0 }, 'the replica is as it was')
  const logged = (): number => (logOf(cluster.options.dataRoot, 'p1').match(/"code":"bad_frame"/g) ?? []).length
  await waitFor(async () => logged() >= want.frames + want.messages, 60_000, 'the log lines to reach the file').catch(() => undefined)
  t.equal(logged(), want.frames + want.messages, 'each refusal has its log line')

  await t.test('a frame over the size limit closes the connection with 1009, is logged, and the link can be made again', async (t) => {
    const code = once(client.ws, 'close')
    client.ws.send('x'.repeat(9 * 1024 * 1024))
    t.equal((await code)[0], 1009, 'ws closes with 1009 (message too big)')
    await waitFor(async () => logOf(cluster.options.dataRoot, 'p1').includes('"code":"frame_too_large"'), 30_000, 'the frame_too_large log line')
    t.ok(cluster.isRunning('p1'), 'the participant is still running')
    const again = await PeerClient.open(`ws://127.0.0.1:${port}/v1/peer`, cluster.token)
    t.equal(again.status, 101)
    await again.client!.next((m) => m.type === 'hello')
    await again.client!.close()
  })
})

t.test(`${count} refused frames into the coordinator's side of a link, from a participant played by the test (seed ${seed})`, async (t) => {
  // Generated before the link opens, as above.
  const fuzz = refusedFrames('coordinator', seed, count)
  const want = expected(fuzz)
  const cluster = await startCluster(t, { participants: 1, env: { LOG_LEVEL: 'info' } })
  await cluster.kill('p1')
  // The test takes p1's place on its port: the coordinator dials it again with backoff.
  const server = createServer()
  const wss = new WebSocketServer({ server, path: '/v1/peer' })
  const sockets: WebSocket[] = []
  const frames: unknown[][] = []
  wss.on('connection', (ws, request) => {
    t.equal(request.headers.authorization, `Bearer ${cluster.token}`, 'the coordinator presents the cluster token')
    sockets.push(ws)
    ws.on('message', (data: Buffer) => { frames.push(JSON.parse(data.toString()) as unknown[]) })
    ws.send(JSON.stringify([{ type: 'hello', participant: 'p1' }]))
  })
  server.listen(cluster.spec('p1').port, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { for (const ws of sockets) ws.terminate(); wss.close(); server.close() })
  // The coordinator may still count the killed p1 as connected for a moment: wait for the test's own connection.
  await waitFor(async () => sockets.length > 0 && (await http(`${cluster.url}/readyz`)).status === 200, 60_000, 'the coordinator to take the test as p1')
  const link = sockets[0]!
  let closed = false
  link.on('close', () => { closed = true })

  const received = (type: string, txId: string) => frames.flat().some((m) => (m as { type: string; txId?: string }).type === type && (m as { txId?: string }).txId === txId)
  /** A transaction through the coordinator with the test voting YES and acknowledging: the link still works. */
  const transaction = async (key: string): Promise<string | undefined> => {
    const answer = submit(cluster, [{ key, value: 'v' }])
    let txId: string | undefined
    await waitFor(async () => {
      const prepare = frames.flat().find((m) => (m as { type: string }).type === 'prepare' && ((m as { writes: { key: string }[] }).writes[0]!.key === key)) as { txId: string } | undefined
      txId = prepare?.txId
      return txId !== undefined
    }, 30_000, `the PREPARE of ${key}`)
    link.send(JSON.stringify([{ type: 'vote', txId, yes: true, versions: { [key]: 1 } }]))
    await waitFor(async () => received('commit', txId!), 30_000, `the COMMIT of ${key}`)
    link.send(JSON.stringify([{ type: 'ack', txId }]))
    return (await answer).body.outcome
  }

  t.comment(`${want.frames} frames refused whole, ${want.messages} messages refused inside frames`)
  let probes = 0
  for (const [i, frame] of fuzz.entries()) {
    link.send(frame.data, { binary: typeof frame.data !== 'string' })
    if ((i + 1) % PROBE_EVERY === 0) {
      probes++
      t.equal(await transaction(`probe-${probes}`), 'committed', `a transaction after ${i + 1} refused frames commits`)
    }
  }
  t.notOk(closed, 'the connection survived every refused frame')
  await waitFor(async () => (await http<{ links: Record<string, { refusedFrames: number; refusedMessages: number }> }>(`${cluster.url}/v1/status`)).body.links.p1!.refusedMessages >= want.messages, 30_000, 'the coordinator to have read every frame')
  const status = (await http<{ links: Record<string, { refusedFrames: number; refusedMessages: number }>; inFlight: number }>(`${cluster.url}/v1/status`)).body
  t.equal(status.links.p1!.refusedFrames, want.frames, 'every frame refused whole was counted')
  t.equal(status.links.p1!.refusedMessages, want.messages, 'every message refused inside a frame was counted')
  t.equal(status.inFlight, 0, 'no transaction left in flight')
  t.equal(frames.flat().filter((m) => (m as { type: string }).type === 'prepare').length, probes, 'the coordinator sent nothing but the probes\' PREPAREs')
  t.ok(cluster.isRunning('coordinator'))

  await t.test('a frame over the size limit from a participant: the coordinator logs it, closes (1009) and dials again', async (t) => {
    const code = once(link, 'close')
    link.send('x'.repeat(9 * 1024 * 1024))
    t.equal((await code)[0], 1009)
    await waitFor(async () => logOf(cluster.options.dataRoot, 'coordinator').includes('"code":"frame_too_large"'), 30_000, 'the frame_too_large log line')
    await waitFor(async () => sockets.length === 2, 60_000, 'the coordinator to dial again')
    await waitFor(async () => (await http(`${cluster.url}/readyz`)).status === 200, 30_000, 'the coordinator to be ready again')
    t.ok(cluster.isRunning('coordinator'))
  })
})
