import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { DockerApi } from '../services/chaos/docker-api.ts'
import { ChaosClient } from './lib/chaos-client.ts'
import type { HistoryEvent, HistoryWrite } from './lib/history.ts'
import { measureFailover, sampleInDoubt } from './lib/failover.ts'
import { judgeRun, waitAllReady } from './lib/judge-run.ts'
import { runWorkload } from './lib/workload.ts'
import { freePort, repoRoot } from './lib/local-cluster.ts'
import { authHeaders } from './lib/credentials.ts'

type Protocol = '2pc' | 'paxos-commit'

/**
 * The compose smoke test (`npm run test:compose`), once per protocol: build,
 * up, wait healthy; a commit at each coordinator; kill a participant through
 * the chaos sidecar (transactions abort cleanly while it is down, commit again
 * once it is back); then clients on both coordinators while the sidecar kills
 * coordinator-1 for good. Under Paxos Commit the participants finish what it
 * left in doubt and coordinator-2 goes on committing; under 2PC what it left
 * in doubt stays in doubt until it comes back (the contrast). The checker
 * finds nothing; down. Says plainly that it was skipped when no Docker engine
 * answers.
 */
async function main(): Promise<void> {
  const engine = await new DockerApi(process.env.DOCKER_SOCKET).call('GET', '/_ping').then((a) => a.status === 200, () => false)
  const compose = composeCommand()
  if (!engine || !compose) {
    process.stdout.write(`SKIPPED compose smoke test: ${engine ? 'neither `docker compose` nor `docker-compose` is installed' : `no Docker engine answers at ${process.env.DOCKER_SOCKET ?? '/var/run/docker.sock'}`}\n`)
    return
  }
  // Every time, not only when empty: a cache filled before the lock file changed lacks the new packages, and the
  // offline build then fails (ENOTCACHED). With everything cached it only checks.
  run(['bash', join(repoRoot, 'scripts', 'docker-cache.sh')], 'fill the npm cache for an offline image build')
  // The compose cluster listens beyond loopback inside its network, so it runs with tokens: this run's own, which
  // its clients (authHeaders) send too.
  process.env.ADMIN_TOKEN ??= `smoke-admin-${process.pid}-0123456789`
  process.env.CLIENT_TOKEN ??= `smoke-write-${process.pid}-0123456789`
  process.env.CLIENT_TOKENS ??= `write:${process.env.CLIENT_TOKEN}`
  const protocols = (process.env.SMOKE_PROTOCOLS ?? '2pc,paxos-commit').split(',') as Protocol[]
  for (const protocol of protocols) await smoke(compose, protocol)
  process.stdout.write('PASSED compose smoke test\n')
}

/**
 * The console under compose: the page is served, the cluster view reaches every participant, the fault
 * buttons' chaos API answers through the coordinator (CHAOS_URL), and a committed transaction's diagram
 * has every node's part, the clocks lined up (containers share the host's monotonic clock).
 */
/** The delete of smoke-solo0 shows through coordinator-1: a read answers 404, a listing pages past it. */
async function listingCheck(coordinator: string): Promise<string> {
  const read = await fetch(`${coordinator}/v1/keys/smoke-solo0`, { headers: authHeaders('client') })
  if (read.status !== 404) throw new Error(`a deleted key read ${read.status}, not 404`)
  const keys: string[] = []
  let after = ''
  for (let page = 0; page < 20; page++) {
    const res = await fetch(`${coordinator}/v1/keys?prefix=smoke-solo&limit=2&after=${encodeURIComponent(after)}`, { headers: authHeaders('client') })
    const body = (await res.json()) as { keys?: { key: string }[]; next?: string }
    if (res.status !== 200) throw new Error(`listing: HTTP ${res.status} ${JSON.stringify(body)}`)
    keys.push(...(body.keys ?? []).map((e) => e.key))
    if (body.next === undefined) break
    after = body.next
  }
  if (keys.includes('smoke-solo0') || !keys.includes('smoke-solo1')) throw new Error(`listing after the delete: ${keys.join(',')}`)
  return `deleted smoke-solo0: a read answers 404, a listing by pages of 2 shows ${keys.length} keys without it`
}

async function consoleCheck(coordinator: string, txId: string): Promise<string> {
  const page = await fetch(`${coordinator}/console`)
  if (page.status !== 200 || page.headers.get('content-type')?.startsWith('text/html') !== true) throw new Error(`console: GET /console answered ${page.status} ${page.headers.get('content-type')}`)
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${coordinator}${path}`, { headers: authHeaders('admin'), signal: AbortSignal.timeout(10000) })
    if (res.status !== 200) throw new Error(`console: GET ${path} answered ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  const cluster = await get<{ participants: { name: string; up: boolean }[]; chaos: boolean }>('/v1/cluster')
  if (cluster.participants.length !== 3 || cluster.participants.some((p) => !p.up) || !cluster.chaos) throw new Error(`console: /v1/cluster ${JSON.stringify(cluster)}`)
  const nodes = await get<{ nodes: { name: string }[] }>('/v1/chaos/nodes')
  if (nodes.nodes.length < 5) throw new Error(`console: the chaos API through the coordinator lists ${JSON.stringify(nodes)}`)
  // The participants' ACKs (or resolved markers) follow the answer: wait until every node's part is in.
  for (let i = 0; ; i++) {
    const flow = await get<{ nodes: { node: string; alignment: string; error?: string }[]; messages: { from: string; to: string; receivedUs: number | null }[] }>(`/v1/transactions/${encodeURIComponent(txId)}/trace`)
    const received = new Set(flow.messages.filter((m) => m.receivedUs !== null).flatMap((m) => [m.from, m.to]))
    const missing = flow.nodes.filter((n) => n.error !== undefined || !received.has(n.node)).map((n) => n.node)
    if (missing.length === 0) return `the console: /console served, /v1/cluster sees p1..p3 up, the chaos API answers through the coordinator (${nodes.nodes.length} nodes), and ${txId}'s diagram has every node's messages (clocks: ${[...new Set(flow.nodes.map((n) => n.alignment))].join(', ')})`
    if (i === 50) throw new Error(`console: ${txId}'s diagram lacks ${missing.join(', ')}: ${JSON.stringify(flow)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function smoke(compose: string[], protocol: Protocol): Promise<void> {
  const ports = {
    COORDINATOR_1_PUBLISHED_PORT: await freePort(),
    COORDINATOR_2_PUBLISHED_PORT: await freePort(),
    CHAOS_PUBLISHED_PORT: await freePort(),
    P1_PUBLISHED_PORT: await freePort(),
    P2_PUBLISHED_PORT: await freePort(),
    P3_PUBLISHED_PORT: await freePort(),
  }
  const project = `txnsmoke${process.pid}${protocol === '2pc' ? 'a' : 'b'}`
  const env = { ...process.env, COMPOSE_PROJECT_NAME: project, COMMIT_PROTOCOL: protocol, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) }
  const dc = (args: string[], what: string): void => { run([...compose, ...args], what, env) }
  const c1 = `http://127.0.0.1:${ports.COORDINATOR_1_PUBLISHED_PORT}`
  const c2 = `http://127.0.0.1:${ports.COORDINATOR_2_PUBLISHED_PORT}`
  const replicaUrls = [ports.P1_PUBLISHED_PORT, ports.P2_PUBLISHED_PORT, ports.P3_PUBLISHED_PORT].map((p) => `http://127.0.0.1:${p}`)
  const chaos = new ChaosClient(`http://127.0.0.1:${ports.CHAOS_PUBLISHED_PORT}`)
  const step = (text: string): void => { process.stdout.write(`- [${protocol}] ${text}\n`) }

  try {
    dc(['up', '-d', '--build'], `build the image and start the ${protocol} cluster`)
    await waitAllReady([`${c1}/readyz`, `${c2}/readyz`, `${chaos.url}/healthz`, ...replicaUrls.map((u) => `${u}/readyz`)], 120000)
    const refused = await Promise.all([`${c1}/v1/keys/k`, `${replicaUrls[0]!}/v1/in-doubt`, `${chaos.url}/v1/faults`].map(async (u) => (await fetch(u)).status))
    if (refused.some((status) => status !== 401)) throw new Error(`a request without a token was not refused with 401 (coordinator, participant, chaos API): ${refused.join(', ')}`)
    step('tokens in force: without one, the coordinator, a participant and the chaos API answer 401')
    step(`cluster ${project} is up and healthy: coordinator-1, coordinator-2, p1..p3, chaos`)
    const startedAt = Date.now()
    const history: HistoryEvent[] = []
    let n = 0
    // Without a client id: with two coordinators, an attempt with an id that aborts before any participant
    // checked the id answers 503 id_in_doubt, and this part wants to see the abort itself.
    const txn = async (url: string, deleting?: string): Promise<string> => {
      const op = n++
      const writes: HistoryWrite[] = deleting === undefined ? [{ key: `smoke-k${op % 3}`, value: `smoke-${op}` }, { key: `smoke-solo${op}`, value: `smoke-${op}` }] : [{ key: deleting, delete: true }]
      history.push({ type: 'invoke', t: Date.now() - startedAt, n: op, client: 0, id: `smoke-${startedAt}-${op}`, writes })
      const res = await fetch(`${url}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders('client') }, body: JSON.stringify({ writes }), signal: AbortSignal.timeout(20000) })
      const body = (await res.json()) as { txId: string; outcome: 'committed' | 'aborted'; versions?: Record<string, number>; reasons?: { code: string }[] }
      if (res.status !== 200) throw new Error(`transaction ${op}: HTTP ${res.status} ${JSON.stringify(body)}`)
      if (body.outcome === 'committed') history.push({ type: 'ok', t: Date.now() - startedAt, n: op, txId: body.txId, versions: body.versions ?? {}, attempts: 1 })
      else history.push({ type: 'fail', t: Date.now() - startedAt, n: op, txId: body.txId, reason: body.reasons?.[0]?.code ?? 'unstated', attempts: 1 })
      return body.outcome === 'committed' ? `committed (${body.txId})` : `aborted (${body.reasons?.[0]?.code ?? '?'})`
    }
    const first = await txn(c1)
    expect(first, /^committed \(coordinator-1:/, 'a transaction commits at coordinator-1')
    step(await consoleCheck(c1, /\((.*)\)/.exec(first)![1]!))
    expect(await txn(c2), /^committed \(coordinator-2:/, 'a transaction commits at coordinator-2')

    const fault = await chaos.inject({ kind: 'kill', node: 'p1' })
    step(`the sidecar killed p1 (${fault.id})`)
    for (let i = 0; i < 3; i++) expect(await txn(c2), /^aborted \(participant_(unavailable|disconnected)\)$/, 'while p1 is down, a transaction aborts cleanly')
    await chaos.heal(fault.id)
    await waitAllReady([`${replicaUrls[0]}/readyz`, `${c1}/readyz`, `${c2}/readyz`], 60000)
    step('the sidecar restarted p1; it is back')
    for (let i = 0; i < 3; i++) expect(await txn(i % 2 === 0 ? c1 : c2), /^committed/, 'with p1 back, transactions commit again')
    expect(await txn(c2, 'smoke-solo0'), /^committed/, 'a delete commits')
    step(await listingCheck(c1))
    if (protocol === '2pc') step(await rebuildCheck(compose, env, [c1, c2], replicaUrls))

    const loss = await coordinatorLoss(protocol, chaos, [c1, c2], replicaUrls, startedAt, step)
    const live = protocol === '2pc' ? [c1, c2] : [c2]
    const judged = await judgeRun(live, replicaUrls, [...history, ...loss], startedAt, 'smoke-')
    if (judged.violations.length > 0) throw new Error(`checker: ${judged.violations.map((v) => `${v.code}: ${v.detail}`).join('; ')}`)
    step(`checker: ${judged.counts.committed} committed, ${judged.counts.aborted} aborted, replicas identical, no violation`)
  } catch (err) {
    spawnSync(compose[0] ?? 'docker', [...compose.slice(1), 'logs', '--tail', '30'], { env, stdio: 'inherit', cwd: repoRoot })
    throw err
  } finally {
    dc(['down', '-v', '--remove-orphans'], 'stop and remove the cluster and its volumes')
  }
}

/**
 * A lost replica through compose (README, "Rebuilding a lost replica"): participant-3's store wiped in its
 * volume, the node refuses to join and exits; the rebuild runs in a one-off container of the same service, from
 * participant-1; started again, it takes part, and the three digests are equal.
 */
async function rebuildCheck(compose: string[], env: NodeJS.ProcessEnv, coordinators: string[], replicaUrls: string[]): Promise<string> {
  const dc = (args: string[], what: string): void => { run([...compose, ...args], what, env) }
  dc(['stop', 'participant-3'], 'stop participant-3')
  dc(['run', '--rm', '--no-deps', '--entrypoint', 'rm', 'participant-3', '-rf', '/data/db'], 'wipe its store (/data/db in its volume)')
  dc(['start', 'participant-3'], 'start it on the empty store')
  const deadline = Date.now() + 60000
  for (;;) {
    const logs = spawnSync(compose[0]!, [...compose.slice(1), 'logs', '--no-color', 'participant-3'], { cwd: repoRoot, env, encoding: 'utf8' }).stdout
    if (logs.includes('refusing to start') && logs.includes('npm run replica -- rebuild p3')) break
    if (Date.now() > deadline) throw new Error(`participant-3 did not refuse its empty store within 60 s; its log ends: ${logs.slice(-2000)}`)
    await new Promise((ok) => setTimeout(ok, 500))
  }
  process.stdout.write('- participant-3 refuses to join with an empty store, naming the rebuild command\n')
  dc(['stop', 'participant-3'], 'make sure it is stopped')
  dc(['run', '--rm', '--no-deps', 'participant-3', 'replica', 'rebuild', 'p3', '--from', 'p1', '--from-url', 'http://participant-1:7001'], 'rebuild p3 from p1')
  dc(['start', 'participant-3'], 'start the rebuilt participant-3')
  await waitAllReady([...coordinators.map((c) => `${c}/readyz`), `${replicaUrls[2]!}/readyz`], 60000)
  // Outside the run's `smoke-` keys: the checker judges those against the history, which this write is not in.
  const res = await fetch(`${coordinators[0]!}/v1/transactions`, { method: 'POST', headers: { 'content-type': 'application/json', ...authHeaders('client') }, body: JSON.stringify({ writes: [{ key: 'rebuilt-check', value: 'yes' }] }), signal: AbortSignal.timeout(20000) })
  const body = (await res.json()) as { outcome?: string }
  if (body.outcome !== 'committed') throw new Error(`after the rebuild, a transaction did not commit: ${JSON.stringify(body)}`)
  // The commit's applies are written just after its answer: the digests may take a moment to agree.
  let digests: { digest: string; entries: number; prepared: string[] }[] = []
  for (let tries = 0; ; tries++) {
    digests = await Promise.all(replicaUrls.map(async (u) => ((await (await fetch(`${u}/v1/replica/digest`, { headers: authHeaders('admin') })).json()) as { digest: string; entries: number; prepared: string[] })))
    if (digests.every((d) => d.digest === digests[0]!.digest && d.prepared.length === 0)) break
    if (tries >= 50) throw new Error(`replicas differ after the rebuild: ${JSON.stringify(digests)}`)
    await new Promise((ok) => setTimeout(ok, 200))
  }
  return `p3 rebuilt from p1 in a one-off container; it commits again, and the three digests are equal (${digests[0]!.entries} entries)`
}

/**
 * Clients on both coordinators (retrying at the other one with the same id)
 * while the sidecar kills coordinator-1 for good. Tried up to three times
 * until the kill leaves one of its transactions in doubt, since that is what
 * the protocols differ on. Returns the workload's history.
 */
async function coordinatorLoss(protocol: Protocol, chaos: ChaosClient, urls: string[], replicaUrls: string[], startedAt: number, step: (text: string) => void): Promise<HistoryEvent[]> {
  const history: HistoryEvent[] = []
  for (let attempt = 1; attempt <= 3; attempt++) {
    const sampler = sampleInDoubt(replicaUrls, startedAt, 50)
    const until = Date.now() + 8000
    const load = runWorkload({ urls, seed: attempt, tag: `smoke-loss${attempt}`, clients: 8, keys: 6, keysPerTxn: [1, 2], preconditionRate: 0, thinkMs: [0, 2], keepGoing: () => Date.now() < until, maxAttempts: 40, requestTimeoutMs: 8000, startedAt })
    await sleep(2500)
    const kill = await chaos.inject({ kind: 'kill', node: 'coordinator-1', permanent: true })
    // Once the sidecar has answered: the fault's startedAt is taken before the Docker API acts, and
    // coordinator-1 may still decide (and its last frames arrive) until then.
    const killedAt = Date.now() - startedAt
    step(`the sidecar killed coordinator-1 for good (${kill.id}) under load`)
    // Operation numbers restart at 0 in every workload: moved past the smoke's own and the earlier attempts'.
    const events = (await load).map((e) => ({ ...e, n: e.n + attempt * 100_000 }))
    const samples = await sampler.stop()
    history.push(...events)
    // 2PC: judged from a second after the kill, so that what coordinator-1 had already sent is in and only
    // what nobody but it can decide is left. Paxos Commit: from the kill, since the participants finish it.
    const from = protocol === '2pc' ? killedAt + 1000 : killedAt
    const left = measureFailover(events, [{ t: from, event: 'fault', kind: 'kill', node: 'coordinator-1' }], Date.now() - startedAt, new Set(['coordinator-1']), samples).inDoubtAfterKill[0]!
    const commitsAfter = events.filter((e) => e.type === 'ok' && e.t > killedAt + 1000).length
    if (protocol === 'paxos-commit') {
      if (left.resolvedWithinMs === undefined) throw new Error(`${left.unresolved} of coordinator-1's transactions still in doubt 5 s after it died`)
      if (commitsAfter === 0) throw new Error('no commit from 1 s after coordinator-1 died: coordinator-2 did not carry on')
      step(`coordinator-2 kept committing without coordinator-1: ${commitsAfter} commits from 1 s after the kill`)
      if (left.transactions > 0) {
        step(`the participants finished the ${left.transactions} transaction(s) coordinator-1 left in doubt within ${left.resolvedWithinMs} ms of the kill`)
        return history
      }
    } else if (left.transactions > 0) {
      if (left.unresolved === 0) throw new Error(`2PC: coordinator-1's transactions in doubt were resolved without it (${JSON.stringify(left)})`)
      step(`2PC blocks: ${left.unresolved} of coordinator-1's transactions still in doubt ${Math.round((Date.now() - startedAt - killedAt) / 1000)} s after it died`)
      await chaos.healAll(true)
      await waitAllReady([`${urls[0]!}/readyz`], 60000)
      await waitNothingInDoubt(replicaUrls, 30000)
      step('coordinator-1 restarted (heal --all): it finished them; nothing in doubt')
      return history
    }
    step(`attempt ${attempt}: coordinator-1 died with nothing in doubt; bring it back and try again`)
    await chaos.healAll(true)
    await waitAllReady([`${urls[0]!}/readyz`], 60000)
  }
  throw new Error('three kills of coordinator-1 under load left nothing in doubt')
}

async function waitNothingInDoubt(replicaUrls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const counts = await Promise.all(replicaUrls.map(async (u) => ((await (await fetch(`${u}/v1/in-doubt`, { headers: authHeaders('admin') })).json()) as { count: number }).count))
    if (counts.every((c) => c === 0)) return
    if (Date.now() > deadline) throw new Error(`still in doubt after ${timeoutMs} ms: ${counts.join(', ')}`)
    await sleep(200)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

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
