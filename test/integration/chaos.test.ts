import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ChaosClient } from '../../scripts/lib/chaos-client.ts'
import { chaosRun } from '../../scripts/lib/chaos-run.ts'
import { startLocalChaos } from '../../scripts/lib/local-chaos.ts'
import { repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { http, startCluster, submit, type LocalCluster } from '../helpers/cluster.ts'

async function chaosCluster(t: Test): Promise<{ cluster: LocalCluster; api: string }> {
  const cluster = await startCluster(t, { partitionable: true, env: { LOG_LEVEL: 'info' } })
  const chaos = await startLocalChaos(cluster, createLogger('chaos', 'silent'))
  t.teardown(async () => {
    await chaos.engine.healAll()
    await chaos.close()
  })
  return { cluster, api: chaos.url }
}

let n = 0
/** Sends transactions until one ends as wanted (a fault takes a moment to be noticed, a heal to be repaired). */
async function until(cluster: LocalCluster, outcome: 'committed' | 'aborted'): Promise<{ outcome: string; reasons?: { code: string }[] }> {
  let last: { outcome: string; reasons?: { code: string }[] } = { outcome: 'none' }
  await waitFor(async () => {
    const r = await submit(cluster, [{ key: `chaos-${n++}`, value: 'v' }, { key: 'shared', value: `v${n}` }])
    last = r.body
    return r.status === 200 && r.body.outcome === outcome
  }, 30000, `a transaction to end ${outcome}`)
  return last
}

t.test('the chaos API kills, pauses and partitions local nodes, and heals them', async (t) => {
  const { cluster, api } = await chaosCluster(t)
  const chaos = new ChaosClient(api)
  t.same((await chaos.nodes()).map((node) => node.name), ['coordinator', 'p1', 'p2', 'p3'])

  const killed = await chaos.inject({ kind: 'kill', node: 'p1' })
  t.match(killed, { id: /^f\d+$/, kind: 'kill', node: 'p1', source: 'api' })
  t.notOk(cluster.isRunning('p1'), 'p1 is dead')
  t.match((await until(cluster, 'aborted')).reasons, [{ code: /participant_(unavailable|disconnected)|vote_timeout/ }])
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'pause', node: 'p1' } }), { status: 409, body: { error: 'node_busy' } })
  t.match((await chaos.faults()).active, [{ id: killed.id, kind: 'kill' }])
  await chaos.heal(killed.id)
  await until(cluster, 'committed')

  const paused = await chaos.inject({ kind: 'pause', node: 'p2', durationMs: 60000 })
  // The first reason may be p2's silence, or a peer's query that the coordinator answers by presumed abort.
  t.match((await until(cluster, 'aborted')).reasons, [{ code: /vote_timeout|participant_disconnected|aborted_by_query/ }])
  t.match(await chaos.healAll(), { healed: [{ id: paused.id }], failed: [] })
  await until(cluster, 'committed')

  const cut = await chaos.inject({ kind: 'partition', node: 'p3' })
  t.ok(cluster.isPartitioned('p3'))
  t.match((await until(cluster, 'aborted')).reasons, [{ code: /vote_timeout|participant_disconnected|aborted_by_query/ }])
  await chaos.heal(cut.id)
  await until(cluster, 'committed')

  await chaos.inject({ kind: 'partition', node: 'coordinator', durationMs: 3000 })
  await until(cluster, 'aborted')
  await waitFor(async () => (await chaos.faults()).active.length === 0, 20000, 'the partition to heal by itself')
  await until(cluster, 'committed')

  const random = await chaos.inject({ kind: 'kill', role: 'participant', durationMs: 200 })
  t.match(random.node, /^p\d$/, 'a random free node of the role')
  await waitFor(async () => (await chaos.faults()).active.length === 0, 20000, 'the kill to heal by itself')

  const events = await chaos.events()
  t.same(events.map((e) => `${e.event} ${e.kind} ${e.node}`), ['fault kill p1', 'heal kill p1', 'fault pause p2', 'heal pause p2', 'fault partition p3', 'heal partition p3', 'fault partition coordinator', 'heal partition coordinator', `fault kill ${random.node}`, `heal kill ${random.node}`])
  t.ok(events.every((e) => !Number.isNaN(Date.parse(e.at))), 'every event has its time')
})

t.test('the chaos API refuses bad requests with a coded error', async (t) => {
  const { api } = await chaosCluster(t)
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'explode', node: 'p1' } }), { status: 400, body: { error: 'bad_request' } })
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'kill', node: 'p9' } }), { status: 404, body: { error: 'unknown_node', message: /no node "p9"/ } })
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'kill', node: 'p1', durationMs: -5 } }), { status: 400, body: { error: 'bad_request' } })
  t.match(await http(`${api}/v1/faults`, { raw: 'kill p1', headers: { 'content-type': 'text/plain' } }), { status: 415, body: { error: 'unsupported_media_type' } })
  t.match(await http(`${api}/v1/faults/f99`, { method: 'DELETE' }), { status: 404, body: { error: 'unknown_fault' } })
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'pause', role: 'coordinator' } }), { status: 201 })
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'pause', role: 'coordinator' } }), { status: 409, body: { error: 'no_candidate' } })
  const schedule = { seed: 1, intervalMs: { min: 500, max: 100 }, durationMs: { min: 1, max: 2 }, mix: { kill: 1, pause: 0, partition: 0 }, roles: ['participant'], maxDown: 1 }
  t.match(await http(`${api}/v1/schedule`, { method: 'PUT', body: schedule }), { status: 400, body: { error: 'bad_request', message: /min > max/ } })
  t.match(await http(`${api}/v1/schedule`, { method: 'PUT', body: { ...schedule, intervalMs: { min: 60000, max: 60000 }, mix: { kill: 0, pause: 0, partition: 0 } } }), { status: 400, body: { message: /weight 0/ } })
  t.match(await http(`${api}/v1/schedule`, { method: 'PUT', body: { ...schedule, intervalMs: { min: 60000, max: 60000 } } }), { status: 200, body: { running: true, options: { seed: 1, intervalMs: [60000, 60000] } } })
  t.match(await http(`${api}/v1/schedule`), { body: { running: true } })
  t.match(await http(`${api}/v1/schedule`, { method: 'DELETE' }), { body: { running: false } })
  t.match(await http(`${api}/v1/heal`, { method: 'POST' }), { status: 200, body: { healed: [{ kind: 'pause', node: 'coordinator' }] } })
  t.match(await http(`${api}/healthz`), { body: { status: 'ok', target: 'local' } })
})

async function faultScript(api: string, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'fault.ts'), ...args, '--chaos-url', api], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | null>((ok) => child.once('exit', ok))
  return { code, out, err }
}

t.test('the one-shot fault scripts kill, pause, partition and heal through the same API', async (t) => {
  const { cluster, api } = await chaosCluster(t)
  t.match(await faultScript(api, 'kill', 'p2'), { code: 0, out: /"kind": "kill"/ })
  t.notOk(cluster.isRunning('p2'))
  t.match(await faultScript(api, 'pause', 'p1', '--for', '60000'), { code: 0, out: /"healAt"/ })
  t.match(await faultScript(api, 'partition', 'p3'), { code: 0 })
  t.match(await faultScript(api, 'list'), { code: 0, out: /"node": "p3"/ })
  t.match(await faultScript(api, 'kill', 'p9'), { code: 1, err: /unknown_node: no node "p9"/ })
  t.match(await faultScript(api, 'kill'), { code: 1, err: /kill needs a node/ })
  t.match(await faultScript(api, 'heal'), { code: 0, out: /"healed"/ })
  t.match(await faultScript(api, 'events'), { code: 0, out: /"event": "heal"/ })
  await until(cluster, 'committed')
  t.match(await faultScript('http://127.0.0.1:1', 'list'), { code: 1, err: /chaos API at http:\/\/127\.0\.0\.1:1 unreachable/ })
})

t.test('a kill for good: a heal of every fault leaves the node down; healing it by id, or with --all, brings it back', async (t) => {
  const { cluster, api } = await chaosCluster(t)
  const chaos = new ChaosClient(api)
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'pause', node: 'p1', permanent: true } }), { status: 400, body: { error: 'bad_request', message: /only a kill can be permanent/ } })
  t.match(await http(`${api}/v1/faults`, { body: { kind: 'kill', node: 'p1', permanent: true, durationMs: 100 } }), { status: 400, body: { error: 'bad_request' } })
  t.match(await faultScript(api, 'pause', 'p1', '--for', 'never'), { code: 1, err: /only a kill can be for good/ })
  t.match(await faultScript(api, 'kill', 'p2', '--for', 'never'), { code: 0, out: /"permanent": true/ })
  t.notOk(cluster.isRunning('p2'))
  const paused = await chaos.inject({ kind: 'pause', node: 'p3' })
  t.match(await faultScript(api, 'heal'), { code: 0, out: /"kept": \[\s*\{[^}]*"node": "p2"/ })
  t.notOk(cluster.isRunning('p2'), 'still down after a heal of every fault')
  t.match((await chaos.faults()).active, [{ node: 'p2', permanent: true }])
  t.match(await chaos.healAll(), { healed: [], kept: [{ node: 'p2' }] })
  t.match(await faultScript(api, 'heal', '--all'), { code: 0, out: /"healed": \[\s*\{[^}]*"node": "p2"/ })
  t.ok(cluster.isRunning('p2'), '--all brings it back')
  t.ok((await chaos.events()).some((e) => e.id === paused.id && e.event === 'heal'), 'the pause of p3 was healed with the others')
  await until(cluster, 'committed')

  // The schedule's kill for good: that node only, at its time, and never a random fault on it.
  await chaos.startSchedule({ seed: 3, intervalMs: [50, 100], durationMs: [20000, 20000], mix: { kill: 0, pause: 1, partition: 0 }, roles: ['participant'], maxDown: 3, killForGood: { node: 'p1', afterMs: 300 } })
  await waitFor(async () => !cluster.isRunning('p1'), 10000, 'p1 to be killed for good')
  await waitFor(async () => (await chaos.faults()).active.length === 3, 10000, 'the random pauses to take the other participants')
  const active = (await chaos.faults()).active
  t.match(active.find((f) => f.node === 'p1'), { kind: 'kill', permanent: true, source: 'schedule' })
  t.same(active.filter((f) => f.node !== 'p1').map((f) => f.kind), ['pause', 'pause'], 'the random faults left p1 alone')
  t.match(await chaos.healAll(true), { failed: [] })
  t.ok(cluster.isRunning('p1'))
})

t.test('a short chaos run against the local cluster: kills, pauses and partitions, and no violation', async (t) => {
  const { cluster, api } = await chaosCluster(t)
  const report = await chaosRun({
    coordinators: cluster.coordinatorNames.map((name) => ({ name, url: cluster.urlOf(name) })),
    participants: cluster.participantNames.map((name) => ({ name, url: cluster.urlOf(name) })),
    chaos: new ChaosClient(api),
    durationMs: 15000,
    seed: 20261123,
    clients: 6,
    keys: 20,
    schedule: { intervalMs: [500, 1500], durationMs: [300, 1500], mix: { kill: 1, pause: 1, partition: 1 }, roles: ['participant', 'coordinator'], maxDown: 1 },
  })
  const c = report.counts
  t.comment(`tried ${c.tried}, committed ${c.committed} (${c.committedDeletes} deletes among their writes), aborted ${JSON.stringify(c.abortedBy)}, never started ${c.neverStarted}, resolved by retry ${c.resolvedByRetry} / status ${c.resolvedByStatus}; faults ${JSON.stringify(c.faults)}`)
  t.same(report.violations, [], 'no violation')
  t.ok(c.committed > 0, 'transactions committed between faults')
  t.ok(c.committedDeletes > 0, 'deletes committed among them (the checker judges them)')
  t.ok(Object.values(c.faults).reduce((a, b) => a + b, 0) >= 3, 'faults were injected')
  t.equal(c.unknown, 0, 'every outcome is known')
})

t.test('the compose smoke test says plainly that it is skipped when no Docker engine answers', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'compose-smoke.ts')], { env: { ...process.env, DOCKER_SOCKET: '/nonexistent/docker.sock' }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (c: Buffer) => { out += c.toString() })
  t.equal(await new Promise((ok) => child.once('exit', ok)), 0)
  t.match(out, /^SKIPPED compose smoke test: no Docker engine answers at \/nonexistent\/docker\.sock/)
})
