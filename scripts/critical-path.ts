import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { measureFloor } from './lib/bench-floor.ts'
import { median } from './lib/stats.ts'
import { LocalCluster, repoRoot } from './lib/local-cluster.ts'
import { parseProtocols, type Protocol } from './lib/protocols.ts'
import { parseMarks, timeline, type Window } from './lib/timeline.ts'

const usage = `npm run bench:path -- [--txns N] [--warmup N] [--participants N] [--protocols 2pc[,paxos-commit]] [--out DIR] [--keep]
Where a transaction's time goes at concurrency 1, which a CPU profile cannot
show (the nodes mostly wait: for a sync, a peer, a core). Starts a local
cluster with timeline marks on (TXN_MARKS), sends --txns sequential
single-key transactions after --warmup unmeasured ones, and prints the median
time of every mark (request handled, frame sent and received, batch written
and synced, reply) since the client sent the request, next to the machine's
floor. --protocols 2pc,paxos-commit runs one cluster per protocol, one after
the other, and prints each one's timeline (Paxos Commit's peer frames, 2a and
2b, show as the participants' sends and receives). Writes JSON to --out
(bench-results/); --keep keeps the raw marks.`

const { values } = parseArgs({
  options: {
    txns: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '500' },
    participants: { type: 'string', default: '3' },
    protocols: { type: 'string', default: '2pc' },
    out: { type: 'string', default: join(repoRoot, 'bench-results') },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}

const protocols = parseProtocols(values.protocols)

async function main(): Promise<void> {
  const participants = Number(values.participants)
  const txns = Number(values.txns)
  process.stderr.write('measuring the floor…\n')
  const floor = await measureFloor()
  console.log(`floor: sync put ${floor.syncPutMs.toFixed(3)} ms, 3 at once on 3 databases ${floor.threeConcurrentSyncPutsMs.toFixed(3)} ms, ws RTT ${floor.wsRttMs.toFixed(3)} ms`)
  const runs: { protocol: Protocol; clientP50Ms: number; rows: ReturnType<typeof timeline> }[] = []
  for (const protocol of protocols) {
    const dataRoot = mkdtempSync(join(tmpdir(), 'txn-path-'))
    const windows: Window[] = []
    let rows: ReturnType<typeof timeline>
    // The data directory goes whatever happens (a cluster that fails to start included), unless --keep asks for the marks.
    try {
      rows = await runAndRead(dataRoot, participants, txns, protocol, windows)
    } finally {
      if (values.keep) console.log(`${protocol}: marks kept in ${dataRoot} (<node>.marks)`)
      else rmSync(dataRoot, { recursive: true, force: true })
    }
    const p50 = median(windows.map((w) => Number(w.end - w.start) / 1e6))
    console.log(`${protocol}: client p50 ${p50.toFixed(3)} ms over ${txns} sequential transactions; median time of each mark since the client sent the request:`)
    console.table(rows.map((r) => ({ 'at ms': r.atMs.toFixed(3), who: r.who, what: r.what, seen: r.seen })))
    runs.push({ protocol, clientP50Ms: p50, rows })
  }
  mkdirSync(values.out, { recursive: true })
  const file = join(values.out, `path-${Date.now()}.json`)
  // One protocol keeps the report's shape of before (clientP50Ms and rows at the top); several add `runs`.
  const first = runs[0]!
  writeFileSync(file, JSON.stringify({ machine: { date: new Date().toISOString(), node: process.version }, floor, participants, txns, protocol: first.protocol, clientP50Ms: first.clientP50Ms, rows: first.rows, ...(runs.length > 1 ? { runs } : {}) }, null, 2))
  console.log(`results: ${file}`)
}

/** Runs the cluster with marks on, fills `windows` with the client's view, and returns the timeline of the nodes' marks. */
async function runAndRead(dataRoot: string, participants: number, txns: number, protocol: Protocol, windows: Window[]): Promise<ReturnType<typeof timeline>> {
  const names = ['coordinator', ...Array.from({ length: participants }, (_, i) => `p${i + 1}`)]
  const marksFile = (name: string): string => join(dataRoot, `${name}.marks`)
  const cluster = await LocalCluster.create({
    dataRoot,
    participants,
    env: { LOG_LEVEL: 'warn', COMMIT_PROTOCOL: protocol },
    nodeEnv: Object.fromEntries(names.map((n) => [n, { TXN_MARKS: marksFile(n) }])),
  })
  try {
    await cluster.startAll()
    // The bench's client (undici, one keep-alive connection): fetch() adds most of a millisecond of its own.
    const pool = new Pool(cluster.url, { connections: 1, pipelining: 1 })
    let n = 0
    const send = async (): Promise<Window> => {
      const start = process.hrtime.bigint()
      const res = await pool.request({
        path: '/v1/transactions',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ writes: [{ key: `path-${n++ % 256}`, value: 'v' }] }),
      })
      const text = await res.body.text()
      if (!text.includes('"outcome":"committed"')) throw new Error(`transaction not committed: ${text}`)
      return { start, end: process.hrtime.bigint() }
    }
    process.stderr.write(`warming up (${values.warmup} transactions)…\n`)
    for (let i = 0; i < Number(values.warmup); i++) await send()
    process.stderr.write(`measuring ${txns} sequential transactions…\n`)
    for (let i = 0; i < txns; i++) windows.push(await send())
    await pool.close()
  } finally {
    // Nodes write their last marks as they exit.
    await cluster.terminateAll()
  }
  const read = (name: string): ReturnType<typeof parseMarks> => (existsSync(marksFile(name)) ? parseMarks(readFileSync(marksFile(name), 'utf8')) : [])
  return timeline(windows, read('coordinator'), names.slice(1).map(read), { rankBy: 'recv prepare', startAt: 'http request' })

}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
