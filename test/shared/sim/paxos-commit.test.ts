import t from 'tap'
import { blockingContrast, paxosBugConfigs, paxosConfigs } from '../../../shared/sim/configs.ts'
import { exploreExhaustive, randomRun, swarmConfig } from '../../../shared/sim/explore.ts'

const small = paxosConfigs['paxos-two-participants-coordinator-gone']!

t.test('Paxos Commit: with the coordinator gone for good, every transaction is still decided (complete bound)', async (t) => {
  const r = exploreExhaustive(small)
  t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}\n${r.violation.trace.join('\n')}` : '')
  t.ok(r.complete)
  t.ok(r.distinct > 10_000, `${r.distinct} states`)
  t.ok(r.terminal > 100, `${r.terminal} terminal states`)
})

t.test('2PC in the same bound blocks: a prepared participant waits for a coordinator that never returns', async (t) => {
  for (const config of [{ ...small, protocol: '2pc' as const }, blockingContrast]) {
    const r = exploreExhaustive(config)
    t.equal(r.violation?.code, 'blocked-in-doubt', `${config.participants} participants`)
    // Two locks: the key, and the version floor of its bucket (the transaction creates the key).
    t.match(r.violation?.detail, /still holds .* prepared and 2 locks, with the coordinator gone for good/)
    t.match(r.violation?.trace.join('\n'), /prepare 1\.1 is durable[\s\S]*CRASH coordinator[\s\S]*\(quiescent: nothing left to happen\)/)
  }
})

t.test("Paxos Commit's flawed variants are each caught by the model checker", async (t) => {
  const expected: Record<string, RegExp> = {
    'leader-proposes-prepared': /commit-needs-every-yes|applied-without-chosen-commit|acknowledged-commit-durable/,
    'small-quorum': /one-value-chosen|atomicity|applied-without-chosen-commit/,
    'skip-phase-1': /one-value-chosen|atomicity/,
  }
  for (const [name, code] of Object.entries(expected)) {
    const r = exploreExhaustive(paxosBugConfigs[name]!, { maxStates: 200_000 })
    t.match(r.violation?.code, code, `${name}: ${r.violation?.code ?? 'not caught'} after ${r.distinct} states`)
  }
})

t.test('an acceptor that sends its 2b before its acceptance is durable is caught by the swarm', async (t) => {
  // It needs a crash of that acceptor, then a recovery ballot whose quorum misses the value: deep in the
  // exhaustive bound (paxosBugConfigs['accept-before-durable'], npm run check:model), found in a few seeds here.
  let caught: string | undefined
  for (let seed = 1; seed <= 200 && caught === undefined; seed++) {
    const { config, options } = swarmConfig(seed, 3, 'paxos-commit')
    caught = randomRun({ ...config, bugs: { acceptBeforeDurable: true } }, seed, options).violation?.code
  }
  t.match(caught, /one-value-chosen|atomicity|client-told/)
})

t.test('a learner that chooses with one acceptance too few makes a participant apply an unchosen commit (swarm)', async (t) => {
  const { config, options } = swarmConfig(1, 3, 'paxos-commit')
  const r = randomRun({ ...config, bugs: { smallQuorum: true } }, 1, options)
  t.equal(r.violation?.code, 'applied-without-chosen-commit')
  t.match(r.violation?.detail, /applied .*, but instance .* did not choose prepared/)
})

t.test('Paxos Commit swarm sample: random faults, concurrent transactions on shared keys, no violation', async (t) => {
  let committed = 0
  let faults = 0
  for (let seed = 1; seed <= 60; seed++) {
    const { config, options } = swarmConfig(seed, 3, 'paxos-commit')
    const r = randomRun(config, seed, options)
    if (r.violation) t.fail(`seed ${seed}: ${r.violation.code}: ${r.violation.detail}`)
    committed += r.committed
    faults += r.faults
  }
  t.ok(committed > 100, `${committed} commits`)
  t.ok(faults > 100, `${faults} faults`)
})

t.test('Paxos Commit swarm sample with replica caches (every key no transaction holds evicted, each load an event): no violation', async (t) => {
  let committed = 0
  for (let seed = 1; seed <= 40; seed++) {
    const { config, options } = swarmConfig(seed, 3, 'paxos-commit', true)
    const r = randomRun(config, seed, options)
    if (r.violation) t.fail(`seed ${seed}: ${r.violation.code}: ${r.violation.detail}`)
    committed += r.committed
  }
  t.ok(committed > 60, `${committed} commits`)
})

t.test('seeds 753 and 900: a participant that refuses a PREPARE stays an acceptor until it knows the outcome', async (t) => {
  // Found by the 10,000-seed swarm. 753: the refusal dropped its acceptor record, and a fresh one accepted a
  // ballot 0 it had promised away. 900: an ABORT learned while the NO was still written dropped it, and the
  // acceptor did not yet tell the outcome. Both times one instance chose both prepared and aborted.
  for (const seed of [753, 900]) {
    const { config, options } = swarmConfig(seed, 3, 'paxos-commit')
    // As found, when markers were kept for ever in every seed.
    delete config.participantRetentionMs
    const r = randomRun(config, seed, options)
    t.equal(r.violation, undefined, r.violation ? `seed ${seed}: ${r.violation.code}: ${r.violation.detail}` : `seed ${seed}`)
    t.ok(r.committed > 0)
  }
})

t.test('seed 7: a resolved marker outlives every node that could still lead a ballot for its transaction', async (t) => {
  // Found by the swarm once markers expired: the coordinator lost its unsynced decision to a power loss,
  // recovered the transaction from its synced begin record after every participant had dropped its marker,
  // and its ballot chose aborted where prepared was chosen. Markers now wait for every peer and the coordinator.
  const { config, options } = swarmConfig(7, 3, 'paxos-commit')
  t.ok(config.participantRetentionMs !== undefined, `markers expire after ${config.participantRetentionMs} ms in this seed`)
  const r = randomRun(config, 7, options)
  t.equal(r.violation, undefined, r.violation ? `${r.violation.code}: ${r.violation.detail}` : 'no violation')
  t.ok(r.trace.some((line) => / ← RESOLVED .* \(asks the same\) from /.test(line)), 'markers past retention were asked about')
  t.ok(r.trace.some((line) => /^p\d: gc is written/.test(line)), 'and collected once everyone answered')
})

t.test('a failing seed replays: the same seed gives the same run', async (t) => {
  const { config, options } = swarmConfig(3, 3, 'paxos-commit')
  const flawed = { ...config, bugs: { skipPhase1: true } }
  const a = randomRun(flawed, 3, options)
  const b = randomRun(flawed, 3, options)
  t.same(b.trace, a.trace)
  t.same(b.violation?.code, a.violation?.code)
})
