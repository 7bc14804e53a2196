import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DockerApi } from '../services/chaos/docker-api.ts'
import { ChaosClient } from './lib/chaos-client.ts'
import type { HistoryEvent } from './lib/history.ts'
import { judgeRun, waitAllReady } from './lib/judge-run.ts'
import { freePort, repoRoot } from './lib/local-cluster.ts'

/**
 * The compose smoke test (`npm run test:compose`): build, up, wait healthy, a
 * transaction, kill a participant through the chaos sidecar, transactions
 * abort cleanly while it is down and commit again once it is back, the checker
 * finds nothing, down. Says plainly that it was skipped when no Docker engine
 * answers.
 */
async function main(): Promise<void> {
  const engine = await new DockerApi(process.env.DOCKER_SOCKET).call('GET', '/_ping').then((a) => a.status === 200, () => false)
  const compose = composeCommand()
  if (!engine || !compose) {
    process.stdout.write(`SKIPPED compose smoke test: ${engine ? 'neither `docker compose` nor `docker-compose` is installed' : `no Docker engine answers at ${process.env.DOCKER_SOCKET ?? '/var/run/docker.sock'}`}\n`)
    return
  }
  if (!existsSync(join(repoRoot, '.npm-cache', '_cacache'))) run(['bash', join(repoRoot, 'scripts', 'docker-cache.sh')], 'fill the npm cache for an offline image build')
  const ports = { COORDINATOR_PUBLISHED_PORT: await freePort(), CHAOS_PUBLISHED_PORT: await freePort(), P1_PUBLISHED_PORT: await freePort(), P2_PUBLISHED_PORT: await freePort(), P3_PUBLISHED_PORT: await freePort() }
  const project = `txnsmoke${process.pid}`
  const env = { ...process.env, COMPOSE_PROJECT_NAME: project, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) }
  const dc = (args: string[], what: string): void => { run([...compose, ...args], what, env) }
  const url = `http://127.0.0.1:${ports.COORDINATOR_PUBLISHED_PORT}`
  const replicaUrls = [ports.P1_PUBLISHED_PORT, ports.P2_PUBLISHED_PORT, ports.P3_PUBLISHED_PORT].map((p) => `http://127.0.0.1:${p}`)
  const chaos = new ChaosClient(`http://127.0.0.1:${ports.CHAOS_PUBLISHED_PORT}`)
  const step = (text: string): void => { process.stdout.write(`- ${text}\n`) }

  try {
    dc(['up', '-d', '--build'], 'build the image and start the cluster')
    await waitAllReady([`${url}/readyz`, `${chaos.url}/healthz`, ...replicaUrls.map((u) => `${u}/readyz`)], 120000)
    step(`cluster ${project} is up and healthy`)
    const startedAt = Date.now()
    const history: HistoryEvent[] = []
    let n = 0
    const txn = async (): Promise<string> => {
      const op = n++
      const writes = [{ key: `smoke-k${op % 3}`, value: `smoke-${op}` }, { key: `smoke-solo${op}`, value: `smoke-${op}` }]
      history.push({ type: 'invoke', t: Date.now() - startedAt, n: op, client: 0, id: `smoke-${startedAt}-${op}`, writes })
      const res = await fetch(`${url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ writes, id: `smoke-${startedAt}-${op}` }), signal: AbortSignal.timeout(20000) })
      const body = (await res.json()) as { txId: string; outcome: 'committed' | 'aborted'; versions?: Record<string, number>; reasons?: { code: string }[] }
      if (res.status !== 200) throw new Error(`transaction ${op}: HTTP ${res.status} ${JSON.stringify(body)}`)
      if (body.outcome === 'committed') history.push({ type: 'ok', t: Date.now() - startedAt, n: op, txId: body.txId, versions: body.versions ?? {}, attempts: 1 })
      else history.push({ type: 'fail', t: Date.now() - startedAt, n: op, txId: body.txId, reason: body.reasons?.[0]?.code ?? 'unstated', attempts: 1 })
      return body.outcome === 'committed' ? 'committed' : `aborted (${body.reasons?.[0]?.code ?? '?'})`
    }
    expect(await txn(), 'committed', 'a transaction commits')

    const fault = await chaos.inject({ kind: 'kill', node: 'p1' })
    step(`the sidecar killed p1 (${fault.id})`)
    for (let i = 0; i < 5; i++) expect(await txn(), /^aborted \(participant_(unavailable|disconnected)\)$/, 'while p1 is down, a transaction aborts cleanly')
    await chaos.heal(fault.id)
    await waitAllReady([`${replicaUrls[0]}/readyz`, `${url}/readyz`], 60000)
    step('the sidecar restarted p1; it is back')
    for (let i = 0; i < 5; i++) expect(await txn(), 'committed', 'with p1 back, transactions commit again')

    const judged = await judgeRun([url], replicaUrls, history, startedAt, 'smoke-')
    if (judged.violations.length > 0) throw new Error(`checker: ${judged.violations.map((v) => `${v.code}: ${v.detail}`).join('; ')}`)
    step(`checker: ${judged.counts.committed} committed, ${judged.counts.aborted} aborted, replicas identical, no violation`)
    const events = await chaos.events()
    if (events.map((e) => `${e.event} ${e.kind} ${e.node}`).join() !== 'fault kill p1,heal kill p1') throw new Error(`fault log: ${JSON.stringify(events)}`)
    process.stdout.write('PASSED compose smoke test\n')
  } catch (err) {
    spawnSync(compose[0] ?? 'docker', [...compose.slice(1), 'logs', '--tail', '30'], { env, stdio: 'inherit', cwd: repoRoot })
    throw err
  } finally {
    dc(['down', '-v', '--remove-orphans'], 'stop and remove the cluster and its volumes')
  }
}

function expect(actual: string, wanted: string | RegExp, what: string): void {
  const ok = typeof wanted === 'string' ? actual === wanted : wanted.test(actual)
  if (!ok) throw new Error(`${what}: got ${actual}`)
  process.stdout.write(`- ${what}: ${actual}\n`)
}

/** `docker compose` (v2) when the plugin is there, else Debian's `docker-compose` (1.29). */
function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose']
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose']
  return undefined
}

function run(command: string[], what: string, env: NodeJS.ProcessEnv = process.env): void {
  process.stdout.write(`- ${what}: ${command.join(' ')}\n`)
  const [file = '', ...args] = command
  const result = spawnSync(file, args, { cwd: repoRoot, env, stdio: ['ignore', 'inherit', 'inherit'], timeout: 20 * 60 * 1000 })
  if (result.status !== 0) throw new Error(`${what} failed (exit ${String(result.status)})`)
}

main().catch((err: unknown) => {
  process.stderr.write(`FAILED compose smoke test: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
