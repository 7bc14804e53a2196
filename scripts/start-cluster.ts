import { LocalCluster } from './lib/local-cluster.ts'
import { resolve } from 'node:path'

/** `npm start`: a coordinator and 3 participants on 127.0.0.1, data under ./data/<node>. */
async function main(): Promise<void> {
  const participants = Number(process.env.PARTICIPANT_COUNT ?? 3)
  const cluster = await LocalCluster.create({
    dataRoot: resolve(process.env.DATA_ROOT ?? 'data'),
    participants,
    token: process.env.CLUSTER_TOKEN ?? 'local-dev-token-change-me',
    basePort: Number(process.env.BASE_PORT ?? 8080),
    logs: 'inherit',
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  })
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    process.stderr.write('\nstopping the cluster…\n')
    cluster.terminateAll().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  await cluster.startAll()
  const url = cluster.url
  process.stderr.write(
    [
      '',
      `2PC cluster is up: coordinator ${url}, participants ${cluster.participantNames.map((p) => `${p} ${cluster.urlOf(p)}`).join(', ')}`,
      'try:',
      `  curl -s -X POST ${url}/v1/transactions -H 'content-type: application/json' -d '{"writes":[{"key":"greeting","value":"hello"}]}'`,
      `  curl -s ${url}/v1/keys/greeting`,
      'Ctrl-C stops every node.',
      '',
    ].join('\n'),
  )
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
