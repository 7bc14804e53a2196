import t from 'tap'
import { bugConfigs, modelConfigs } from '../../../shared/sim/configs.ts'
import { exploreExhaustive, randomRun, swarmConfig } from '../../../shared/sim/explore.ts'
import { createWorld, touchedNodes, type SimConfig } from '../../../shared/sim/world.ts'

t.test('exhaustive: every interleaving of 1 coordinator, 2 participants, 1 transaction and at most 1 crash of any node is safe and live', async (t) => {
  const r = exploreExhaustive(modelConfigs['two-participants-one-crash']!)
  t.comment(`transitions ${r.transitions}, distinct states ${r.distinct}, terminal ${r.terminal}, depth ${r.maxDepth}, ${r.timeMs} ms`)
  t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : 'no violation')
  t.equal(r.complete, true, 'the whole bounded state space was explored')
  t.ok(r.distinct > 10000 && r.terminal > 10, 'a real state space, not a trivial one')
})

t.test('exhaustive: two concurrent transactions on one key (1 participant, no crash) are safe and live, lock hand-over included', async (t) => {
  const r = exploreExhaustive({ ...modelConfigs['two-txns-one-participant']!, maxCrashes: 0 })
  t.comment(`transitions ${r.transitions}, distinct states ${r.distinct}, depth ${r.maxDepth}, ${r.timeMs} ms`)
  t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : 'no violation')
  t.equal(r.complete, true)
  t.ok(r.distinct > 5000, 'a real state space, not a trivial one')
})

t.test('exhaustive: two concurrent transactions on one key, 2 participants, FIFO connections, no crash, are safe and live', async (t) => {
  // The 1-crash bound (npm run check:model -- --config two-txns-shared-key) takes minutes; this is its crash-free part.
  const r = exploreExhaustive({ ...modelConfigs['two-txns-shared-key']!, maxCrashes: 0 })
  t.comment(`transitions ${r.transitions}, distinct states ${r.distinct}, terminal ${r.terminal}, depth ${r.maxDepth}, ${r.timeMs} ms`)
  t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : 'no violation')
  t.equal(r.complete, true)
  t.ok(r.distinct > 50_000 && r.terminal > 100, 'a real state space, not a trivial one')
})

t.test('exhaustive: deletes are writes like any other: a delete beside a conditional re-create of one key, and beside a create on its version floor, are safe and live', async (t) => {
  for (const [name, minStates] of [['delete-recreate-one-participant', 5000], ['delete-beside-create-fifo-crash', 50_000]] as const) {
    const r = exploreExhaustive({ ...modelConfigs[name]!, maxCrashes: 0 })
    t.comment(`${name}: transitions ${r.transitions}, distinct states ${r.distinct}, terminal ${r.terminal}, ${r.timeMs} ms`)
    t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : `${name}: no violation`)
    t.equal(r.complete, true)
    t.ok(r.distinct > minStates, 'a real state space, not a trivial one')
  }
})

t.test('exhaustive: structural hashes tell apart exactly the states that canonical strings tell apart', async (t) => {
  // The fast forms against the MD5-of-canonical-string reference on complete state spaces: a collision or a missed
  // equivalence would change the counts.
  const configs: SimConfig[] = [
    { ...modelConfigs['two-txns-one-participant']!, maxCrashes: 0 },
    { ...modelConfigs['two-participants-one-crash']!, fifo: true },
  ]
  for (const config of configs) {
    const fast = exploreExhaustive(config)
    const exact = exploreExhaustive(config, { exactForms: true })
    t.ok(fast.complete && exact.complete)
    t.same({ ...fast, timeMs: 0 }, { ...exact, timeMs: 0 })
  }
})

t.test('exhaustive: successors share only the nodes an event does not touch (copy-on-write never changes a parent)', async (t) => {
  // The same state space with and without sharing checks: every kind of event (crash of either role, restart, a dropped and a re-established connection, a duplicate, the backup coordinator) runs under the check.
  for (const config of [modelConfigs['lossy-network']!, { ...modelConfigs['two-participants-one-crash']!, maxDisconnects: 1 }, { ...bugConfigs['naive-backup-coordinator']!, maxCrashes: 1 }]) {
    const checked = exploreExhaustive(config, { maxStates: 4000, verifySharing: true })
    const plain = exploreExhaustive(config, { maxStates: 4000 })
    t.same({ ...checked, timeMs: 0 }, { ...plain, timeMs: 0 })
  }
  t.throws(() => {
    exploreExhaustive({ ...modelConfigs['lossy-network']!, participants: 1 }, { maxStates: 50, verifySharing: true, unsafeShareAll: true })
  }, /copy-on-write broken/)
})

t.test('which nodes an event touches: its own, plus the peers of a connection change; the backup coordinator only reads', async (t) => {
  const world = createWorld(bugConfigs['naive-backup-coordinator']!)
  t.same(touchedNodes(world, { kind: 'backup', txId: '1.1' }), [])
  t.same(touchedNodes(world, { kind: 'crash', node: 'p1', restart: false }), ['p1', 'coordinator'])
  t.same(touchedNodes(world, { kind: 'crash', node: 'coordinator', restart: true }), ['coordinator', 'p1', 'p2', 'p3'])
  t.same(touchedNodes(world, { kind: 'disconnect', participant: 'p2' }), ['p2', 'coordinator'])
})

t.test('exhaustive: symmetry reduction visits fewer states and reaches the same verdicts', async (t) => {
  const small = { ...modelConfigs['lossy-network']!, maxDuplicates: 0 }
  const plain = exploreExhaustive(small, { symmetry: false })
  const reduced = exploreExhaustive(small, { symmetry: true })
  t.comment(`plain ${plain.distinct} states, with symmetry ${reduced.distinct}`)
  t.ok(plain.complete && reduced.complete && !plain.violation && !reduced.violation)
  t.ok(reduced.distinct < plain.distinct, 'fewer states')
  t.ok(reduced.terminal > 0)
  const bug = exploreExhaustive(bugConfigs['reply-before-durable']!, { symmetry: true })
  t.equal(bug.violation?.code, 'client-told-committed', 'a flawed variant is still caught')
  let calls = 0
  exploreExhaustive(modelConfigs['lossy-network']!, { maxStates: 2500, progressEvery: 1000, onProgress: () => { calls++ } })
  t.equal(calls, 2, 'progress is reported every progressEvery states')
})

t.test('exhaustive: a state cap stops the search and says it is incomplete', async (t) => {
  const r = exploreExhaustive(modelConfigs['lossy-network']!, { maxStates: 500 })
  t.equal(r.complete, false)
  t.equal(r.distinct, 500)
})

t.test('exhaustive: a coordinator that replies before its decision is durable is caught, with a trace', async (t) => {
  const r = exploreExhaustive(bugConfigs['reply-before-durable']!)
  t.equal(r.violation?.code, 'client-told-committed')
  t.match(r.violation?.trace.join('\n'), /CRASH coordinator/)
  t.equal(r.complete, false)
})

const seeds = Array.from({ length: 200 }, (_, i) => i + 1)

t.test('random swarm: 200 seeds over 5 participants with crashes, dropped connections and duplicates find no violation', async (t) => {
  let steps = 0
  let committed = 0
  let faults = 0
  for (const seed of seeds) {
    const { config, options } = swarmConfig(seed)
    const r = randomRun(config, seed, options)
    steps += r.steps
    committed += r.committed
    faults += r.faults
    if (r.violation) t.fail(`seed ${seed}: ${r.violation.code}: ${r.violation.detail} (replay: npm run check:sim -- --seed ${seed})`)
  }
  t.comment(`${seeds.length} runs, ${steps} steps, ${committed} commits, ${faults} faults`)
  t.ok(committed > 500, 'transactions commit')
  t.ok(faults > 500, 'faults are injected')
})

t.test('a run is a pure function of its seed', async (t) => {
  const { config, options } = swarmConfig(11)
  t.same(randomRun(config, 11, options).trace, randomRun(config, 11, options).trace)
})

function firstViolation(bug: (c: SimConfig) => SimConfig): { seed: number; code: string; trace: string[] } | undefined {
  for (const seed of Array.from({ length: 1000 }, (_, i) => i + 1)) {
    const { config, options } = swarmConfig(seed)
    const r = randomRun(bug(config), seed, options)
    if (r.violation) return { seed, code: r.violation.code, trace: r.violation.trace }
  }
  return undefined
}

t.test('random: each flawed variant is caught, with its seed and trace', async (t) => {
  const reply = firstViolation((c) => ({ ...c, bugs: { replyBeforeDurable: true } }))
  t.match(reply, { code: /client-told-committed|acknowledged-commit-durable/ }, `reply before durable: seed ${reply?.seed}`)
  const vote = firstViolation((c) => ({ ...c, bugs: { voteBeforeDurable: true } }))
  t.match(vote, { code: /replicas-identical|acknowledged-commit-durable|atomicity/ }, `vote before durable: seed ${vote?.seed}`)
  const backup = firstViolation((c) => ({ ...c, backup: true }))
  t.match(backup, { code: /atomicity|client-told|commit-needs-every-yes/ }, `naive backup coordinator: seed ${backup?.seed}`)
  t.match(backup?.trace.join('\n'), /BACKUP coordinator sees .* and decides/)
})

t.test('exhaustive: replicas larger than memory (a cache so small that every key no transaction holds is evicted) are safe and live; a cache taking a stale load is caught', async (t) => {
  for (const name of ['two-txns-one-participant-cache', 'two-txns-one-participant-cache-complete', 'delete-recreate-cache']) {
    const r = exploreExhaustive({ ...modelConfigs[name]!, maxCrashes: 0 })
    t.comment(`${name}: transitions ${r.transitions}, distinct states ${r.distinct}, terminal ${r.terminal}, ${r.timeMs} ms`)
    t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : `${name}: no violation`)
    t.equal(r.complete, true)
    t.ok(r.distinct > 10_000, 'a real state space, not a trivial one')
  }
  const bug = exploreExhaustive(bugConfigs['stale-loads']!)
  t.equal(bug.violation?.code, 'version-reused', 'a precondition passed on an old version: the key\'s version repeats')
  t.ok(bug.violation?.trace.some((line) => line.includes('reads the store')), 'the trace shows the load reading the store')
})

t.test('random swarm with replica caches: 100 seeds over 5 participants, every load and scan an event of its own, find no violation', async (t) => {
  let committed = 0
  for (let seed = 1; seed <= 100; seed++) {
    const { config, options } = swarmConfig(seed, 5, '2pc', true)
    const r = randomRun(config, seed, options)
    if (r.violation) t.fail(`seed ${seed}: ${r.violation.code}: ${r.violation.detail}`)
    committed += r.committed
  }
  // Fewer than without a cache: each load adds two steps before a vote, and more PREPAREs meet their vote timeout.
  t.ok(committed > 50, `${committed} commits`)
})
