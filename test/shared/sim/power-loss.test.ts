import t from 'tap'
import { bugConfigs, modelConfigs } from '../../../shared/sim/configs.ts'
import { exploreExhaustive, randomRun, swarmConfig } from '../../../shared/sim/explore.ts'
import { applyEvent, cloneForEvent, createWorld, enabledEvents, survivorSets, touchedNodes, type SimConfig, type SimEvent, type World } from '../../../shared/sim/world.ts'

const onePowerLoss: SimConfig = modelConfigs['two-participants-power-loss']!

/** Applies the first enabled event that `pick` accepts; fails if there is none. */
function run(config: SimConfig, world: World, pick: (e: SimEvent) => boolean): string {
  const event = enabledEvents(config, world).find(pick)
  if (!event) throw new Error(`no such event among ${JSON.stringify(enabledEvents(config, world))}`)
  return applyEvent(config, world, event)
}

t.test('the simulated disk: an unsynced write survives a process crash, and a power loss takes it', async (t) => {
  // Up to the coordinator's begin record being written: a write with no fsync (the client-id record).
  const config: SimConfig = { ...onePowerLoss, maxCrashes: 1 }
  const world = createWorld(config)
  run(config, world, (e) => e.kind === 'submit')
  t.match(run(config, world, (e) => e.kind === 'persist' && e.node === 'coordinator'), /begin 1\.1 is written, unsynced$/, 'the begin record is written without fsync')
  const coordinator = world.nodes.coordinator!
  t.equal(coordinator.unsynced?.length, 1, 'and remembered as unsynced')
  t.ok([...coordinator.store.keys()].some((k) => k.includes('1.1')), 'a reader sees it at once')

  const crashed = cloneForEvent(world, { kind: 'crash', node: 'coordinator', restart: true })
  applyEvent(config, crashed, { kind: 'crash', node: 'coordinator', restart: true })
  t.ok([...crashed.nodes.coordinator!.store.keys()].some((k) => k.includes('1.1')), 'a process crash keeps it (the page cache survives)')

  const powerCut = cloneForEvent(world, { kind: 'powerLoss', node: 'coordinator', restart: true, keep: 0 })
  const line = applyEvent(config, powerCut, { kind: 'powerLoss', node: 'coordinator', restart: true, keep: 0 })
  t.match(line, /^POWER LOSS coordinator \(unsynced writes LOST: begin 1\.1; pending writes lost, connections dropped\) and RESTART/)
  t.notOk([...powerCut.nodes.coordinator!.store.keys()].some((k) => k.includes('1.1')), 'a power loss takes it')
  t.ok([...powerCut.nodes.coordinator!.store.keys()].some((k) => k.startsWith('epoch')), 'the restart wrote its epoch record (synced)')
  t.equal(powerCut.nodes.coordinator!.unsynced, undefined, 'nothing unsynced is left: the budget is spent')
  t.equal(powerCut.budget.powerLosses, 0)
  t.equal(powerCut.budget.crashes, 1, 'a power loss does not spend the crash budget')

  const kept = cloneForEvent(world, { kind: 'powerLoss', node: 'coordinator', restart: false, keep: 1 })
  t.match(applyEvent(config, kept, { kind: 'powerLoss', node: 'coordinator', restart: false, keep: 1 }), /unsynced writes kept: begin 1\.1; pending writes lost/)
  t.ok([...kept.nodes.coordinator!.store.keys()].some((k) => k.includes('1.1')), 'the pages may also have reached the disk')
})

t.test('the simulated disk: a sync makes every earlier write durable, and power-loss events offer each subset of what is unsynced', async (t) => {
  const config = onePowerLoss
  const world = createWorld(config)
  run(config, world, (e) => e.kind === 'submit')
  t.same(enabledEvents(config, world).filter((e) => e.kind === 'powerLoss' && e.node === 'coordinator').map((e) => (e as { keep: number }).keep), [0], 'nothing unsynced yet: one way to lose power')
  run(config, world, (e) => e.kind === 'persist' && e.node === 'coordinator')
  t.same(enabledEvents(config, world).filter((e) => e.kind === 'powerLoss' && e.node === 'coordinator').map((e) => (e as { keep: number }).keep), [0, 1], 'one unsynced write: lost or kept')
  // Both participants prepare (synced writes of their own) and vote; the coordinator's commit decision is synced.
  for (let i = 0; i < 40 && world.nodes.coordinator!.coordinator!.txns.get('1.1')?.phase !== 'committed'; i++) {
    run(config, world, (e) => e.kind === 'deliver' || e.kind === 'persist')
  }
  t.equal(world.nodes.coordinator!.unsynced, undefined, 'the synced decision covered the begin record written before it')
  t.equal(world.nodes.coordinator!.synced, undefined)

  t.same(survivorSets(0), [0])
  t.same(survivorSets(2), [0, 1, 2, 3], 'few unsynced writes: every subset')
  t.same(survivorSets(6), [0, 1, 3, 7, 15, 31, 63], 'many: the oldest k, for each k')
  t.same(touchedNodes(world, { kind: 'powerLoss', node: 'p1', restart: false, keep: 0 }), ['p1', 'coordinator'])
  t.same(touchedNodes(world, { kind: 'powerLoss', node: 'coordinator', restart: false, keep: 0 }), ['coordinator', 'p1', 'p2'])
})

t.test('exhaustive: every interleaving with one power loss of any node is safe and live', async (t) => {
  for (const name of ['two-participants-power-loss', 'two-txns-one-participant-power-loss']) {
    const r = exploreExhaustive(modelConfigs[name]!)
    t.comment(`${name}: transitions ${r.transitions}, distinct states ${r.distinct}, terminal ${r.terminal}, ${r.timeMs} ms`)
    t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : `${name}: no violation`)
    t.equal(r.complete, true)
    t.ok(r.distinct > 10_000, 'a real state space, not a trivial one')
  }
})

t.test('exhaustive: copy-on-write holds for power losses (the store a power loss replaces is the touched node\'s own)', async (t) => {
  const checked = exploreExhaustive(onePowerLoss, { maxStates: 6000, verifySharing: true })
  const plain = exploreExhaustive(onePowerLoss, { maxStates: 6000 })
  t.same({ ...checked, timeMs: 0 }, { ...plain, timeMs: 0 })
})

t.test('a PREPARED record or a commit decision written without fsync is caught by a power loss, and by no process crash', async (t) => {
  const prepare = exploreExhaustive(bugConfigs['prepare-without-fsync']!)
  t.match(prepare.violation?.code, /replicas-identical|acknowledged-commit-durable|atomicity/)
  t.match(prepare.violation?.trace.join('\n'), /POWER LOSS p\d \(unsynced writes LOST: prepare 1\.1/)
  const decision = exploreExhaustive(bugConfigs['decision-without-fsync']!)
  t.match(decision.violation?.code, /client-told-committed|acknowledged-commit-durable/)
  t.match(decision.violation?.trace.join('\n'), /POWER LOSS coordinator \(unsynced writes LOST: [^)]*commit-decision 1\.1/)
  // The same flaws with a process crash instead, at any point: the page cache keeps the unsynced write, nothing is seen.
  for (const bug of ['prepare-without-fsync', 'decision-without-fsync']) {
    const r = exploreExhaustive({ ...bugConfigs[bug]!, maxPowerLosses: 0, maxCrashes: 1 })
    t.ok(r.complete && r.violation === undefined, `${bug}: invisible to process crashes (${r.distinct} states)`)
  }
})

t.test('random swarm: power losses are injected, lose unsynced writes, and find no violation; the flaws are caught', async (t) => {
  let powerLosses = 0
  let lostWrites = 0
  for (let seed = 1; seed <= 60; seed++) {
    const { config, options } = swarmConfig(seed)
    const r = randomRun(config, seed, options)
    if (r.violation) t.fail(`seed ${seed}: ${r.violation.code}: ${r.violation.detail} (replay: npm run check:sim -- --seed ${seed})`)
    powerLosses += r.trace.filter((l) => l.startsWith('POWER LOSS')).length
    lostWrites += r.trace.filter((l) => l.startsWith('POWER LOSS') && l.includes('LOST')).length
  }
  t.comment(`${powerLosses} power losses, ${lostWrites} of them losing unsynced writes`)
  t.ok(powerLosses > 20, 'power losses happen')
  t.ok(lostWrites > 5, 'and some lose writes')
  for (const bug of [{ prepareWithoutSync: true }, { decisionWithoutSync: true }]) {
    let caught: string | undefined
    for (let seed = 1; seed <= 2000 && caught === undefined; seed++) {
      const { config, options } = swarmConfig(seed)
      caught = randomRun({ ...config, bugs: bug }, seed, options).violation?.code
    }
    t.ok(caught !== undefined, `${Object.keys(bug)[0]}: caught by the swarm (${caught})`)
  }
})
