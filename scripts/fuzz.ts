import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { runHttpFuzz } from './lib/fuzz-http.ts'
import { LocalCluster } from './lib/local-cluster.ts'

const usage = `npm run fuzz -- [--seed S] [--requests 100000]
Starts a local cluster (coordinator and 3 participants) and sends it the
seed's generated HTTP requests (fast-check), one after another. Fails on any
answer >= 500, any 4xx without { error, message }, a node that stops, or a
replica value that no committed request wrote. Case i of seed S is the same
request everywhere: the failure lines name both.`

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: String(Date.now() % 1_000_000) }, requests: { type: 'string', default: '100000' }, help: { type: 'boolean', default: false } } })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const seed = Number(values.seed)
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-fuzz-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 3 })
  await cluster.startAll()
  const started = Date.now()
  let failed = false
  try {
    const summary = await runHttpFuzz(cluster.url, seed, Number(values.requests), (done) => { process.stderr.write(`\r${done} requests, ${Math.round((Date.now() - started) / 1000)} s `) })
    process.stderr.write('\n')
    const replicas = await Promise.all(cluster.participantNames.map(async (p) => (await (await fetch(`${cluster.urlOf(p)}/v1/replica`)).json()) as { participant: string; entries: Record<string, { value: string }> }))
    const strays = replicas.flatMap((r) => Object.entries(r.entries).filter(([k, e]) => !(summary.committed.get(k)?.has(e.value) ?? false)).map(([k]) => `${r.participant}:${k}`))
    const down = [...cluster.nodes.keys()].filter((n) => !cluster.isRunning(n))
    console.log(JSON.stringify({ seed, requests: summary.requests, seconds: Math.round((Date.now() - started) / 1000), byStatus: summary.byStatus, msByVia: summary.msByVia, commits: summary.commits, faults: summary.faults.length, strays, down }))
    for (const f of summary.faults.slice(0, 50)) console.log(f)
    failed = summary.faults.length > 0 || strays.length > 0 || down.length > 0
    if (failed) console.log(`replay: npm run fuzz -- --seed ${seed} --requests ${values.requests} (logs in ${dataRoot})`)
  } finally {
    await cluster.stopAll()
    if (!failed) rmSync(dataRoot, { recursive: true, force: true })
  }
  process.exitCode = failed ? 1 : 0
}

await main()
