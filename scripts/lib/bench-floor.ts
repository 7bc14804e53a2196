import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { WebSocket, WebSocketServer } from 'ws'
import { median } from './stats.ts'

export interface Floor {
  syncPutMs: number
  syncBatch64Ms: number
  wsRttMs: number
  /**
   * Three synced puts at once, to three databases: what the PREPARE phase of
   * three participants sharing this disk pays (not part of the critical-path
   * formula; reported to explain it).
   */
  threeConcurrentSyncPutsMs: number
}

const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6

/** The irreducible pieces of 2PC's critical path, measured on this machine in this run. */
export async function measureFloor(samples = 200): Promise<Floor> {
  const dir = mkdtempSync(join(tmpdir(), 'txn-floor-'))
  const db = new ClassicLevel<string, string>(dir)
  await db.open()
  const put: number[] = []
  const batch: number[] = []
  for (let i = 0; i < samples; i++) {
    let t = process.hrtime.bigint()
    await db.put(`k${i}`, 'x'.repeat(100), { sync: true })
    put.push(ms(t))
    t = process.hrtime.bigint()
    await db.batch(Array.from({ length: 64 }, (_, j) => ({ type: 'put' as const, key: `b${i}/${j}`, value: 'x'.repeat(100) })), { sync: true })
    batch.push(ms(t))
  }
  await db.close()
  rmSync(dir, { recursive: true, force: true })
  const threeConcurrentSyncPutsMs = await concurrentSyncPuts(3, samples)

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  wss.on('connection', (ws) => { ws.on('message', (data) => { ws.send(data) }) })
  await new Promise((ok) => wss.once('listening', ok))
  const address = wss.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const ws = new WebSocket(`ws://127.0.0.1:${port}`)
  await new Promise((ok) => ws.once('open', ok))
  const rtt: number[] = []
  for (let i = 0; i < samples * 2; i++) {
    const t = process.hrtime.bigint()
    ws.send('[{"type":"commit","txId":"1.1"}]')
    await new Promise((ok) => ws.once('message', ok))
    rtt.push(ms(t))
  }
  ws.close()
  await new Promise((ok) => { wss.close(ok) })
  return { syncPutMs: median(put), syncBatch64Ms: median(batch), wsRttMs: median(rtt), threeConcurrentSyncPutsMs }
}

async function concurrentSyncPuts(count: number, samples: number): Promise<number> {
  const dirs = Array.from({ length: count }, () => mkdtempSync(join(tmpdir(), 'txn-floor-')))
  const dbs = dirs.map((dir) => new ClassicLevel<string, string>(dir))
  await Promise.all(dbs.map((db) => db.open()))
  const all: number[] = []
  for (let i = 0; i < samples; i++) {
    const t = process.hrtime.bigint()
    await Promise.all(dbs.map((db) => db.put(`k${i}`, 'x'.repeat(100), { sync: true })))
    all.push(ms(t))
  }
  await Promise.all(dbs.map((db) => db.close()))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  return median(all)
}
