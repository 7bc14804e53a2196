import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { http, replicas, startCluster, submit, waitSettled } from '../helpers/cluster.ts'
import { PeerClient } from '../helpers/peer-client.ts'
import { waitFor } from '../../scripts/lib/local-cluster.ts'

const PAXOS = { COMMIT_PROTOCOL: 'paxos-commit', RECOVERY_AFTER_MS: '300' }

interface InDoubt {
  count: number
}

t.test('COMMIT_PROTOCOL=paxos-commit: the running cluster commits and aborts through the acceptors, and every replica agrees', async (t) => {
  const cluster = await startCluster(t, { env: PAXOS })
  const one = await submit(cluster, [{ key: 'px/a', value: '1' }, { key: 'px/b', value: '1' }], { id: 'paxos-1' })
  t.match(one, { status: 200, body: { outcome: 'committed', id: 'paxos-1', versions: { 'px/a': 1, 'px/b': 1 } } })
  const stale = await submit(cluster, [{ key: 'px/a', value: '2', ifVersion: 0 }])
  t.match(stale.body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key: 'px/a', message: 'expected version 0, found 1' }] }, 'a failed precondition: aborted on the first durable NO')
  const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(cluster, [{ key: `px/c${i % 4}`, value: String(i) }])))
  t.ok(concurrent.every((r) => r.status === 200), 'twenty at once on four keys: each answered with an outcome')
  t.ok(concurrent.some((r) => r.body.outcome === 'committed'))
  const retry = await submit(cluster, [{ key: 'px/a', value: '1' }, { key: 'px/b', value: '1' }], { id: 'paxos-1' })
  t.match(retry.body, { outcome: 'committed', txId: one.body.txId }, 'a retry with the same id returns the one outcome')
  const all = await waitSettled(cluster)
  for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} holds what ${all[0]!.participant} holds`)
  t.same(all[0]!.entries['px/a'], { value: '1', version: 1 })
  t.match((await http(`${cluster.urlOf('p1')}/v1/status`)).body, { acceptor: { connections: 2, refusedFrames: 0 }, peers: { p2: { connected: true }, p3: { connected: true } } }, 'p1 dialled both peers, and both dialled it')

  await t.test('the acceptor endpoint: the cluster token or 401; a malformed frame or a coordinator message is refused and logged, the link stays', async (t) => {
    const url = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/acceptor`
    const stranger = new WebSocket(url)
    stranger.on('error', () => undefined) // terminated while connecting, below
    const [, refused] = (await once(stranger, 'unexpected-response')) as [unknown, { statusCode: number }]
    t.equal(refused.statusCode, 401)
    stranger.terminate()
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${cluster.token}` } })
    const [hello] = (await once(ws, 'message')) as [Buffer]
    t.same(JSON.parse(hello.toString()), [{ type: 'hello', participant: 'p1' }], 'it names itself first')
    ws.send('{not json')
    ws.send(JSON.stringify([{ type: 'commit', txId: '1.1' }, { type: 'phase1a', txId: '9.9', ballot: 'high' }]))
    ws.send(JSON.stringify([{ type: 'phase1a', txId: '9.9', ballot: 7 }]))
    let status = (await http<{ acceptor: { refusedFrames: number; refusedMessages: number } }>(`${cluster.urlOf('p1')}/v1/status`)).body
    for (let i = 0; i < 50 && status.acceptor.refusedMessages < 2; i++) {
      await new Promise((ok) => setTimeout(ok, 50))
      status = (await http<{ acceptor: { refusedFrames: number; refusedMessages: number } }>(`${cluster.urlOf('p1')}/v1/status`)).body
    }
    t.match(status.acceptor, { refusedFrames: 1, refusedMessages: 2 }, 'the bad frame, the COMMIT and the bad 1a refused')
    t.equal(ws.readyState, WebSocket.OPEN, 'the link stays')
    const logFile = join(cluster.options.dataRoot, 'p1.log')
    // The log reaches its file through a pipe: wait for the lines rather than race them.
    for (let i = 0; i < 100 && !readFileSync(logFile, 'utf8').includes('refused a coordinator message on the acceptor link'); i++) await new Promise((ok) => setTimeout(ok, 50))
    const log = readFileSync(logFile, 'utf8')
    t.match(log, /"code":"bad_frame".*"msg":"refused a malformed frame on the acceptor link"/, 'each refusal is logged')
    t.match(log, /"type":"commit","txId":"1\.1".*"msg":"refused a coordinator message on the acceptor link"/)
    ws.close()
    t.equal((await submit(cluster, [{ key: 'px/after', value: 'ok' }])).body.outcome, 'committed', 'and the cluster still commits')
  })

  await t.test('the acceptor endpoint: a connection claims no one, so none displaces another; beyond 2 × the participants in PEERS one is refused with 409 peer_busy', async (t) => {
    const url = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/acceptor`
    const connections = async (): Promise<number> => (await http<{ acceptor: { connections: number } }>(`${cluster.urlOf('p1')}/v1/status`)).body.acceptor.connections
    await waitFor(async () => (await connections()) === 2, 10000, 'the previous test\'s connection to be gone')
    const extra = []
    for (let i = 0; i < 4; i++) extra.push(await PeerClient.open(url, cluster.token))
    t.same(extra.map((e) => e.status), [101, 101, 101, 101], 'four more with the token are taken beside p2\'s and p3\'s')
    t.match(await PeerClient.open(url, cluster.token), { status: 409, body: { error: 'peer_busy' } }, 'a seventh (2 × 3 participants) is refused')
    t.equal(await connections(), 6)
    t.equal((await submit(cluster, [{ key: 'px/beside', value: 'ok' }])).body.outcome, 'committed', 'p2\'s and p3\'s links were not displaced: the cluster commits')
    for (const e of extra) await e.client?.close()
  })
})

t.test('the coordinator dies once the commit is chosen, before anyone hears it, and never returns: the participants finish the transaction themselves', async (t) => {
  // Under 2PC the same crash leaves every participant in doubt with its locks until the coordinator is back
  // (test/integration/blocking.test.ts). Here a participant leads a recovery ballot, learns the outcome the
  // acceptors hold, and tells the others.
  const cluster = await startCluster(t, { env: PAXOS, nodeEnv: { coordinator: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  await t.rejects(submit(cluster, [{ key: 'px/orphan', value: 'v' }]), 'the client is cut off')
  await cluster.waitExit('coordinator')
  const all = await waitSettled(cluster, 30000)
  for (const r of all) t.same(r.entries['px/orphan'], { value: 'v', version: 1 }, `committed on ${r.participant}, with no coordinator`)
  for (const p of cluster.participantNames) t.equal((await http<InDoubt>(`${cluster.urlOf(p)}/v1/in-doubt`)).body.count, 0, `${p} has nothing in doubt`)
  t.notOk(cluster.isRunning('coordinator'), 'the coordinator never came back')
  t.equal((await replicas(cluster)).length, 3)
})
