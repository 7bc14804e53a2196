import { resolve } from 'node:path'
import { createLogger } from '../shared/io/runtime/logger.ts'
import { startLocalChaos } from './lib/local-chaos.ts'
import { LocalCluster } from './lib/local-cluster.ts'
import { prettyDestination, prettyLines } from './lib/pretty-logs.ts'
import { parseAccessTokens } from '../shared/io/runtime/access-tokens.ts'

/**
 * `npm start`: two coordinators (c1 on BASE_PORT, c2 after the participants)
 * and 3 participants on 127.0.0.1, data under ./data/<node>, and the chaos
 * API on 127.0.0.1:8090 (no faults unless asked: `npm run fault -- …`).
 * COORDINATOR_COUNT=1 runs the single unnamed `coordinator` instead.
 */
async function main(): Promise<void> {
  const participants = Number(process.env.PARTICIPANT_COUNT ?? 3)
  const coordinators = Number(process.env.COORDINATOR_COUNT ?? 2)
  if (!Number.isInteger(coordinators) || coordinators < 1 || coordinators > 8) throw new Error(`COORDINATOR_COUNT must be an integer from 1 to 8 (got ${process.env.COORDINATOR_COUNT})`)
  // Readable logs for a person at a terminal; JSON everywhere else (a pipe, a file, CI), or with LOG_FORMAT=json.
  const pretty = process.stdout.isTTY && process.env.LOG_FORMAT !== 'json'
  const chaosPort = Number(process.env.CHAOS_PORT ?? 8090)
  const cluster = await LocalCluster.create({
    dataRoot: resolve(process.env.DATA_ROOT ?? 'data'),
    participants,
    coordinators,
    token: process.env.CLUSTER_TOKEN ?? 'local-dev-token-change-me',
    basePort: Number(process.env.BASE_PORT ?? 8080),
    logs: pretty ? 'pretty' : 'inherit',
    // CHAOS_URL: the console's fault buttons reach the chaos API below through the coordinators.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', CHAOS_URL: `http://127.0.0.1:${chaosPort}` },
    partitionable: true,
    // TLS_DIR=certs (after `npm run certs`): every node on https:// and wss://, each with its own certificate.
    ...(process.env.TLS_DIR === undefined || process.env.TLS_DIR === '' ? {} : { tlsDir: resolve(process.env.TLS_DIR) }),
  })
  const chaosLog = pretty ? prettyDestination(process.stdout, prettyLines(true)) : undefined
  // CLIENT_TOKENS and ADMIN_TOKEN reach every node through the environment; the chaos API here takes ADMIN_TOKEN too.
  const access = parseAccessTokens('', process.env.ADMIN_TOKEN ?? '')
  const chaos = await startLocalChaos(cluster, createLogger('chaos', process.env.LOG_LEVEL ?? 'info', chaosLog), chaosPort, '127.0.0.1', access)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    process.stderr.write('\nstopping the cluster…\n')
    chaos.engine
      .healAll()
      .then(async () => chaos.close())
      .then(async () => cluster.terminateAll())
      .then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  await cluster.startAll()
  const url = cluster.url
  process.stderr.write(
    [
      '',
      `${protocolName()} cluster is up: ${cluster.coordinatorNames.length === 1 ? `coordinator ${url}` : `coordinators ${cluster.coordinatorNames.map((c) => `${c} ${cluster.urlOf(c)}`).join(', ')}`}, participants ${cluster.participantNames.map((p) => `${p} ${cluster.urlOf(p)}`).join(', ')}`,
      ...(cluster.coordinatorNames.length > 1 ? ['any coordinator serves any client; one that loses a coordinator retries at another with the same "id"'] : []),
      'try:',
      `  curl -s${tlsFlag()} -X POST ${url}/v1/transactions${bearer('a write token of CLIENT_TOKENS')} -H 'content-type: application/json' -d '{"writes":[{"key":"greeting","value":"hello"}],"id":"greeting-1"}'`,
      `  curl -s${tlsFlag()} ${cluster.urlOf(cluster.coordinatorNames.at(-1)!)}/v1/keys/greeting${bearer('a token of CLIENT_TOKENS')}`,
      `  npm run fault -- kill p1 --for 5000     (chaos API on ${chaos.url})`,
      `console: ${url}/console`,
      'Ctrl-C stops every node.',
      '',
    ].join('\n'),
  )
}

/** The curl header to show when tokens are set (a placeholder: a token is never printed). */
function bearer(which: string): string {
  return (process.env.CLIENT_TOKENS ?? '') === '' && (process.env.ADMIN_TOKEN ?? '') === '' ? '' : ` -H 'authorization: Bearer <${which}>'`
}

/** curl's flag to trust the development CA, under TLS_DIR. */
function tlsFlag(): string {
  return process.env.TLS_DIR === undefined || process.env.TLS_DIR === '' ? '' : ` --cacert ${process.env.TLS_DIR}/ca.crt`
}

function protocolName(): string {
  return process.env.COMMIT_PROTOCOL === 'paxos-commit' ? 'Paxos Commit' : '2PC'
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
