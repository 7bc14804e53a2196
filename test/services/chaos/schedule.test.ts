import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { makeCerts, tlsEnv } from '../../helpers/certs.ts'
import { loadChaosConfig } from '../../../services/chaos/config.ts'
import type { ClusterNode } from '../../../services/chaos/faults.ts'
import { parseKillForGood, parseMix, parseRange, parseRoles, planFault, type ScheduleOptions } from '../../../services/chaos/schedule.ts'
import { Prng } from '../../../shared/core/prng.ts'

const nodes: ClusterNode[] = [
  { name: 'p2', role: 'participant' },
  { name: 'coordinator', role: 'coordinator' },
  { name: 'p1', role: 'participant' },
]
const options: ScheduleOptions = { seed: 1, intervalMs: [10, 20], durationMs: [100, 200], mix: { kill: 1, pause: 1, partition: 1 }, roles: ['participant', 'coordinator'], maxDown: 1 }

t.test('a schedule is a function of its seed', async (t) => {
  const run = (seed: number): string[] => {
    const prng = new Prng(seed)
    return Array.from({ length: 30 }, () => JSON.stringify(planFault(prng, options, nodes, new Set())))
  }
  t.same(run(42), run(42), 'same seed, same faults')
  t.not(run(42).join(), run(43).join(), 'another seed, other faults')
  const plans = run(7).map((p) => JSON.parse(p) as { kind: string; node: string; durationMs: number })
  t.same(new Set(plans.map((p) => p.kind)), new Set(['kill', 'pause', 'partition']), 'every kind of the mix happens')
  t.same(new Set(plans.map((p) => p.node)), new Set(['coordinator', 'p1', 'p2']), 'every allowed node is hit')
  t.ok(plans.every((p) => p.durationMs >= 100 && p.durationMs <= 200), 'durations in range')
})

t.test('a schedule respects the mix, the roles and max-down', async (t) => {
  const prng = new Prng(3)
  const onlyKills = { ...options, mix: { kill: 1, pause: 0, partition: 0 }, roles: ['participant' as const] }
  for (let i = 0; i < 50; i++) t.match(planFault(prng, onlyKills, nodes, new Set()), { kind: 'kill', node: /^p\d$/ })
  t.equal(planFault(prng, options, nodes, new Set(['p1'])), undefined, 'one node down is the max')
  t.match(planFault(prng, { ...options, maxDown: 2, roles: ['participant'] }, nodes, new Set(['p1'])), { node: 'p2' }, 'a busy node is never hit twice')
  t.equal(planFault(prng, { ...options, maxDown: 3, roles: ['coordinator'] }, nodes, new Set(['coordinator'])), undefined, 'no free node of the role')
})

t.test('mix, ranges and roles parse from their command-line / environment form', async (t) => {
  t.same(parseMix('kill=2, pause'), { kill: 2, pause: 1, partition: 0 })
  t.throws(() => parseMix('explode=1'), /unknown fault kind "explode"/)
  t.throws(() => parseMix('kill=-1'), /bad weight "-1" for kill/)
  t.throws(() => parseMix('kill=0'), /every kind weight 0/)
  t.same(parseRange('2000-6000'), [2000, 6000])
  t.same(parseRange('3000'), [3000, 3000])
  t.throws(() => parseRange('9-1'), /bad range "9-1"/)
  t.throws(() => parseRange('a-b'), /bad range/)
  t.same(parseRoles('participant, coordinator'), ['participant', 'coordinator'])
  t.throws(() => parseRoles('janitor'), /unknown role "janitor"/)
  t.throws(() => parseRoles(' , '), /no role may be hit/)
  t.same(parseKillForGood('c1@20000'), { node: 'c1', afterMs: 20000 })
  t.throws(() => parseKillForGood('c1'), /bad kill-for-good "c1" \(want node@ms/)
  t.throws(() => parseKillForGood('c1@-5'), /bad kill-for-good/)
})

t.test('the sidecar reads its configuration from the environment', async (t) => {
  const admin = { ADMIN_TOKEN: 'sidecar-admin-token-0123' }
  const config = loadChaosConfig({ ...admin, CHAOS_SCHEDULE: 'on', CHAOS_SEED: '9', CHAOS_INTERVAL_MS: '100-200', CHAOS_MIX: 'pause=1', CHAOS_ROLES: 'participant', CHAOS_MAX_DOWN: '2', CHAOS_PROJECT: 'txn' })
  t.match(config, { host: '0.0.0.0', port: 8090, dockerSocket: '/var/run/docker.sock', project: 'txn', scheduleAtStart: true, schedule: { seed: 9, intervalMs: [100, 200], durationMs: [1000, 5000], mix: { kill: 0, pause: 1, partition: 0 }, roles: ['participant'], maxDown: 2 } })
  t.same(config.access, [{ scope: 'admin', token: admin.ADMIN_TOKEN }], 'ADMIN_TOKEN guards the API')
  t.equal(loadChaosConfig(admin).scheduleAtStart, false, 'the schedule is off unless asked for')
  t.throws(() => loadChaosConfig({ ...admin, CHAOS_MIX: 'boom' }), /invalid configuration: unknown fault kind "boom"/)
  t.throws(() => loadChaosConfig({ ...admin, CHAOS_SCHEDULE: 'maybe' }), /invalid configuration: CHAOS_SCHEDULE/)
  t.match(loadChaosConfig({ ...admin, CHAOS_KILL_FOR_GOOD: 'coordinator-1@15000' }).schedule, { killForGood: { node: 'coordinator-1', afterMs: 15000 } })
  t.notOk('killForGood' in loadChaosConfig(admin).schedule, 'no kill for good unless asked for')
  t.throws(() => loadChaosConfig({ ...admin, CHAOS_KILL_FOR_GOOD: 'never' }), /invalid configuration: bad kill-for-good/)
  // Safe by default: the sidecar listens on every interface unless told otherwise, so it needs the token.
  t.throws(() => loadChaosConfig({}), { message: 'invalid configuration: CHAOS_HOST=0.0.0.0 listens beyond this machine, so ADMIN_TOKEN must be set (or listen on 127.0.0.1)' })
  t.same(loadChaosConfig({ CHAOS_HOST: '127.0.0.1' }).access, [], 'on loopback it may run open')
  const root = mkdtempSync(join(tmpdir(), 'txn-chaos-tls-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  makeCerts(root, 'chaos')
  t.ok(loadChaosConfig({ ...admin, ...tlsEnv(root, 'chaos') }).tls?.cert.toString().includes('BEGIN CERTIFICATE'), 'TLS_*: its API over HTTPS')
  t.notOk('tls' in loadChaosConfig(admin), 'plain unless asked for')
  t.throws(() => loadChaosConfig({ ADMIN_TOKEN: 'short' }), { message: 'invalid configuration: the token of ADMIN_TOKEN must be at least 16 printable ASCII characters without spaces (got 5 characters)' })
})
