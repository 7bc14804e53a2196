import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { WebSocketServer } from 'ws'
import { freePort, probe, waitFor } from '../../scripts/lib/local-cluster.ts'
import { http } from '../helpers/cluster.ts'
import { PeerClient } from '../helpers/peer-client.ts'
import { durableBefore, logSyncs, parseTrace, spawnTraced } from '../helpers/syscall-trace.ts'

/**
 * Durability as the kernel sees it. A SIGKILL keeps the page cache, so no
 * crash test can tell a missing fsync; here the node runs under strace, and
 * the test checks, from its system calls, that each YES vote and each ACK
 * leaves a participant only after the LevelDB log write holding its record
 * was synced (fdatasync returned), and that each `committed` answer leaves
 * the coordinator only after its decision record was. It also checks the
 * store's own count of syncs against the kernel's.
 */
const TOKEN = 'fsync-test-token'
const TXNS = 5
/** strace prints a written buffer with its quotes escaped. */
const esc = (s: string): string => s.replaceAll('"', '\\"')

// A node under strace -f starts several times slower; on a loaded 2-core machine that took more than 30 s once.
async function traced(t: Test, role: 'coordinator' | 'participant', env: NodeJS.ProcessEnv): Promise<{ dataDir: string; traceFile: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `txn-fsync-${role}-`))
  const traceFile = join(dataDir, '..', `${dataDir.split('/').pop()!}.strace`)
  const child = spawnTraced(role, { CLUSTER_TOKEN: TOKEN, DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env }, traceFile)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  let running = true
  const exited = new Promise((ok) => child.once('exit', () => { running = false; ok(undefined) }))
  const stop = async (): Promise<void> => {
    if (!running) return
    // The node is strace's child: kill it outright (no flush), and strace ends with it.
    const node = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/)[0]
    if (node) process.kill(Number(node), 'SIGKILL')
    await exited
  }
  t.teardown(async () => {
    await stop()
    rmSync(dataDir, { recursive: true, force: true })
    rmSync(traceFile, { force: true })
  })
  child.once('exit', (code) => { if (code !== null && code !== 0) t.comment(`strace exited ${code}: ${stderr}`) })
  return { dataDir, traceFile, stop }
}

t.test('a participant sends YES only after its PREPARED record is synced, and ACK only after its apply is', async (t) => {
  const port = await freePort()
  const node = await traced(t, 'participant', { PARTICIPANT_ID: 'p1', PARTICIPANT_PORT: String(port) })
  await waitFor(async () => (await probe(`http://127.0.0.1:${port}/readyz`)) === 200, 120_000, 'the traced participant to be ready')
  const { client } = await PeerClient.open(`ws://127.0.0.1:${port}/v1/peer`, TOKEN)
  await client!.next((m) => m.type === 'hello')
  for (let i = 1; i <= TXNS; i++) {
    client!.send([{ type: 'prepare', txId: `9.${i}`, writes: [{ key: `key-${i}`, value: `v${i}` }] }])
    t.match(await client!.next((m) => m.type === 'vote' && m.txId === `9.${i}`), { yes: true })
    client!.send([{ type: 'commit', txId: `9.${i}` }])
    await client!.next((m) => m.type === 'ack' && m.txId === `9.${i}`)
  }
  const { store } = (await http<{ store: { syncs: number } }>(`http://127.0.0.1:${port}/v1/status`)).body
  await client!.close()
  await node.stop()

  const calls = parseTrace(node.traceFile)
  t.ok(calls.length > 0, `the trace holds ${calls.length} calls`)
  for (let i = 1; i <= TXNS; i++) {
    const txId = `9.${i}`
    const vote = durableBefore(calls, (d) => d.includes(`prep/${txId}`), (d) => d.includes(esc(`{"type":"vote","txId":"${txId}","yes":true`)))
    t.ok(vote.durableBeforeSent, `${txId}: PREPARED record written (line ${vote.recordAt}), log synced (line ${vote.syncedAt}), then YES sent (line ${vote.sentAt})`)
    const ack = durableBefore(calls, (d) => d.includes(`done/${txId}`) && d.includes(`kv/key-${i}`), (d) => d.includes(esc(`{"type":"ack","txId":"${txId}"}`)))
    t.ok(ack.durableBeforeSent, `${txId}: apply written (line ${ack.recordAt}), log synced (line ${ack.syncedAt}), then ACK sent (line ${ack.sentAt})`)
  }
  t.equal(logSyncs(calls), store.syncs, `the store's count of syncs (${store.syncs}) is the kernel's count of log fdatasyncs`)
})

t.test('the coordinator answers committed only after its decision record is synced', async (t) => {
  // Two participants played by the test: they say hello, vote YES, and acknowledge.
  const participants = await Promise.all(['p1', 'p2'].map(async (name) => {
    const port = await freePort()
    const wss = new WebSocketServer({ host: '127.0.0.1', port })
    wss.on('connection', (ws) => {
      ws.send(JSON.stringify([{ type: 'hello', participant: name }]))
      ws.on('message', (data: Buffer) => {
        const answers = (JSON.parse(data.toString()) as { type: string; txId?: string; writes?: { key: string }[] }[]).flatMap((m) => {
          if (m.type === 'prepare') return [{ type: 'vote', txId: m.txId, yes: true, versions: Object.fromEntries(m.writes!.map((w) => [w.key, 1])) }]
          if (m.type === 'commit') return [{ type: 'ack', txId: m.txId }]
          return []
        })
        if (answers.length > 0) ws.send(JSON.stringify(answers))
      })
    })
    t.teardown(async () => { await new Promise((ok) => { wss.close(ok) }) })
    return `${name}=ws://127.0.0.1:${port}/v1/peer`
  }))
  const port = await freePort()
  const node = await traced(t, 'coordinator', { COORDINATOR_PORT: String(port), PARTICIPANTS: participants.join(',') })
  const url = `http://127.0.0.1:${port}`
  await waitFor(async () => (await probe(`${url}/readyz`)) === 200, 120_000, 'the traced coordinator to be ready')
  const txIds: string[] = []
  for (let i = 1; i <= TXNS; i++) {
    const res = await http<{ txId: string; outcome: string }>(`${url}/v1/transactions`, { body: { writes: [{ key: `key-${i}`, value: `v${i}` }] } })
    t.equal(res.body.outcome, 'committed')
    txIds.push(res.body.txId)
  }
  const { store } = (await http<{ store: { syncs: number } }>(`${url}/v1/status`)).body
  await node.stop()

  const calls = parseTrace(node.traceFile)
  for (const txId of txIds) {
    const decision = durableBefore(calls, (d) => d.includes(`tx/${txId}`) && d.includes(esc('"outcome":"committed"')), (d) => d.includes(esc(`{"txId":"${txId}","outcome":"committed"`)))
    t.ok(decision.durableBeforeSent, `${txId}: decision written (line ${decision.recordAt}), log synced (line ${decision.syncedAt}), then "committed" answered (line ${decision.sentAt})`)
  }
  t.equal(logSyncs(calls), store.syncs, `the store's count of syncs (${store.syncs}) is the kernel's count of log fdatasyncs`)
})
