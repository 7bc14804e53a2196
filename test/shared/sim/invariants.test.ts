import t from 'tap'
import { checkQuiescent, checkSafety, noteApplyVersions, noteVersions } from '../../../shared/sim/invariants.ts'
import { oneTxn } from '../../../shared/sim/configs.ts'
import { exploreExhaustive, randomRun } from '../../../shared/sim/explore.ts'
import { applyEvent, createWorld, enabledEvents, type SimConfig } from '../../../shared/sim/world.ts'

const config: SimConfig = { ...oneTxn, maxCrashes: 0, crashable: [] }
const names = ['p1', 'p2']

t.test('a fresh world is safe but not quiescent until the client is answered', async (t) => {
  const w = createWorld(config)
  t.equal(checkSafety(w, names), undefined)
  t.match(checkQuiescent(config, w), { code: 'progress', detail: /c1/ })
})

t.test('each safety invariant names what it caught', async (t) => {
  const w = createWorld(config)
  w.ghost.applied['1.1'] = ['p1']
  w.ghost.abortedPrepared['1.1'] = ['p2']
  t.match(checkSafety(w, names), { code: 'atomicity' })
  w.ghost.abortedPrepared = {}
  t.match(checkSafety(w, names), { code: 'commit-needs-every-yes', detail: /p1,p2/ })
  w.ghost.yesVotes['1.1'] = ['p1']
  t.match(checkSafety(w, names), { code: 'commit-needs-every-yes', detail: /p2/ })
  w.ghost.applied = {}
  w.ghost.told['1.2'] = 'aborted'
  w.ghost.applied['1.2'] = ['p1']
  w.ghost.yesVotes['1.2'] = ['p1', 'p2']
  t.match(checkSafety(w, names), { code: 'client-told-aborted' })
  w.ghost.applied = {}
  w.ghost.told = { '1.3': 'committed' }
  w.ghost.abortedPrepared['1.3'] = ['p2']
  t.match(checkSafety(w, names), { code: 'client-told-committed' })
  w.ghost.abortedPrepared = {}
  t.equal(checkSafety(w, names), undefined)
  w.ghost.flaws.push({ code: 'noted', detail: 'earlier' })
  t.match(checkSafety(w, names), { code: 'noted' }, 'a noted flaw stays reported')
})

t.test('a version going back is noted when the write becomes durable, and stays noted', async (t) => {
  const w = createWorld(config)
  w.nodes.p1!.store.set('kv/x', { value: 'a', version: 2 })
  noteVersions(w, 'p1')
  t.same(w.ghost.flaws, [])
  w.nodes.p1!.store.set('kv/x', { value: 'a', version: 1 })
  noteVersions(w, 'p1')
  t.match(w.ghost.flaws[0], { code: 'version-monotonic', detail: /from version 2 back to 1/ })
  w.nodes.p1!.store.set('kv/x', { value: 'a', version: 3 })
  t.match(checkSafety(w, names), { code: 'version-monotonic' }, 'still reported once the version is past the old one')
})

t.test('a client told two different outcomes for one transaction is a flaw, and the first answer stays', async (t) => {
  const w = createWorld(config)
  w.ghost.told['1.1'] = 'aborted'
  for (let steps = 0; w.clients[0]!.status !== 'answered' && steps < 100; steps++) {
    const next = enabledEvents(config, w).find((e) => e.kind !== 'timer')!
    applyEvent(config, w, next)
  }
  t.match(w.clients[0], { status: 'answered', outcome: 'committed', txId: '1.1' })
  t.equal(w.ghost.told['1.1'], 'aborted')
  t.match(checkSafety(w, names), { code: 'client-told-both', detail: /1\.1 aborted, then committed/ })
})

t.test('each quiescence invariant names what it caught', async (t) => {
  const w = createWorld(config)
  w.clients[0]!.status = 'answered'
  t.equal(checkQuiescent(config, w), undefined)
  w.nodes.p1!.participant!.locks.set('x', '1.1')
  t.match(checkQuiescent(config, w), { code: 'no-leftover-locks' })
  w.nodes.p1!.participant!.locks.clear()
  w.nodes.p1!.store.set('kv/x', { value: 'a', version: 1 })
  t.match(checkQuiescent(config, w), { code: 'replicas-identical' })
  w.nodes.p2!.store.set('kv/x', { value: 'a', version: 1 })
  w.ghost.told['1.1'] = 'committed'
  w.ghost.applied['1.1'] = ['p1']
  t.match(checkQuiescent(config, w), { code: 'acknowledged-commit-durable', detail: /p2/ })
  w.ghost.applied['1.1'] = ['p1', 'p2']
  w.nodes.coordinator!.up = false
  t.match(checkQuiescent(config, w), { code: 'progress', detail: /coordinator is down/ })
})

t.test('exhaustive search reports a progress/convergence violation found at a terminal state', async (t) => {
  const r = exploreExhaustive({ ...config, participants: 1, maxCrashes: 1, crashable: ['participant'], bugs: { voteBeforeDurable: true } })
  t.match(r.violation, { code: /acknowledged-commit-durable|replicas-identical/ })
  t.match(r.violation?.trace.at(-1), /quiescent/)
})

t.test('a client id reused for other writes is refused, and the refusal is an answer', async (t) => {
  const dup: SimConfig = { ...config, txns: [config.txns[0]!, { clientId: 'c1', writes: [{ key: 'y', value: 'b' }] }] }
  const w = createWorld(dup)
  applyEvent(dup, w, { kind: 'submit', client: 0 })
  applyEvent(dup, w, { kind: 'submit', client: 1 })
  t.match(w.clients[1], { status: 'answered', outcome: 'aborted' })
  t.ok(enabledEvents(dup, w).length > 0)
})

t.test('the random runner also drives the exhaustive configurations (no start times)', async (t) => {
  const r = randomRun({ ...config, timers: 'all' }, 5, { maxSteps: 5000, faultSteps: 0, rates: { crash: 0, disconnect: 0, duplicate: 0 } })
  t.equal(r.violation, undefined)
  t.equal(r.committed, 1)
})

t.test('a run that cannot settle within its step budget is a progress violation', async (t) => {
  const r = randomRun({ ...config, timers: 'all' }, 5, { maxSteps: 3, faultSteps: 0, rates: { crash: 0, disconnect: 0, duplicate: 0 } })
  t.match(r.violation, { code: 'progress', detail: /not settled after 3 steps/ })
})

t.test('a commit that puts a key at a version the replica already holds is noted as a reused version', async (t) => {
  const w = createWorld(config)
  w.nodes.p1!.store.set('kv/x', { value: 'a', version: 2 })
  noteApplyVersions(w, 'p1', [{ type: 'put', key: 'kv/x', value: { value: 'b', version: 3 } }, { type: 'put', key: 'kv/new', value: { value: 'c', version: 1 } }, { type: 'del', key: 'kv/gone' }, { type: 'put', key: 'done/1.1', value: {} }])
  t.same(w.ghost.flaws, [], 'a higher version, a new key, a delete, and a record that is not an entry')
  noteApplyVersions(w, 'p1', [{ type: 'put', key: 'kv/x', value: { value: 'a', version: 2 } }])
  t.same(w.ghost.flaws, [], 'the entry it holds, again (an apply written twice)')
  noteApplyVersions(w, 'p1', [{ type: 'put', key: 'kv/x', value: { value: 'b', version: 2 } }])
  t.match(w.ghost.flaws, [{ code: 'version-reused', detail: 'p1 committed kv/x at version 2 over version 2' }])
})
