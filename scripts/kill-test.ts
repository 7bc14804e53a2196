import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { killRun } from './lib/kill-run.ts'
import { LocalCluster } from './lib/local-cluster.ts'

const usage = `npm run kill-test -- [--seed N] [--txns 3000] [--clients 8] [--keys 200] [--participants 3] [--kills 40]
Runs transactions from concurrent clients while random nodes are SIGKILLed and
restarted, then checks every outcome against the replicas. Exit 1 on a violation.`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      txns: { type: 'string', default: '3000' },
      clients: { type: 'string', default: '8' },
      keys: { type: 'string', default: '200' },
      participants: { type: 'string', default: '3' },
      kills: { type: 'string', default: '40' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const seed = Number(values.seed)
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-kill-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: Number(values.participants) })
  await cluster.startAll()
  try {
    const report = await killRun(cluster, {
      seed,
      txns: Number(values.txns),
      clients: Number(values.clients),
      keys: Number(values.keys),
      kills: Number(values.kills),
      killEveryCommits: [10, 40],
      downMs: [50, 400],
      thinkMs: [20, 120],
      onProgress: (done, total) => {
        if (done % 50 === 0 || done === total) process.stderr.write(`\r${done}/${total} transactions`)
      },
    })
    process.stderr.write('\n')
    console.table({ seed, kills: report.kills.length, committed: report.committed, aborted: report.aborted, neverStarted: report.neverStarted, resolvedByRetry: report.resolvedByRetry, resolvedByStatus: report.resolvedByStatus, violations: report.violations.length })
    for (const v of report.violations) console.error(`VIOLATION ${v.code}: ${v.detail}${v.trace ? `\n  ${v.trace.join('\n  ')}` : ''}`)
    console.log(`data and logs: ${dataRoot}; replay with --seed ${seed}`)
    process.exitCode = report.violations.length > 0 ? 1 : 0
  } finally {
    await cluster.stopAll()
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
