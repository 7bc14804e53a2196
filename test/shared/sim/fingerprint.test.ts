import t from 'tap'
import { modelConfigs } from '../../../shared/sim/configs.ts'
import { Fingerprinter, fingerprint } from '../../../shared/sim/fingerprint.ts'
import { applyEvent, cloneForEvent, createWorld, type SimEvent, type World } from '../../../shared/sim/world.ts'

const config = modelConfigs['three-participants-one-crash']!

function after(world: World, event: SimEvent): World {
  const next = cloneForEvent(world, event)
  applyEvent(config, next, event)
  return next
}

/** The client's request, then its PREPARE delivered to one participant. */
function preparedAt(participant: string): World {
  const sent = after(createWorld(config), { kind: 'submit', client: 0 })
  const prepare = sent.net.find((m) => m.to === participant)!
  return after(sent, { kind: 'deliver', msg: prepare.id, duplicate: false })
}

t.test('worlds equal up to renaming participants get one form with symmetry, different ones without', async (t) => {
  const [a, b, c] = [preparedAt('p1'), preparedAt('p2'), preparedAt('p3')]
  const symmetric = new Fingerprinter(config, true)
  t.equal(symmetric.of(a), symmetric.of(b))
  t.equal(symmetric.of(b), symmetric.of(c))
  t.equal(symmetric.of(a), symmetric.of(a), 'stable (cached node forms)')
  const plain = new Fingerprinter(config, false)
  t.not(plain.of(a), plain.of(b))
  t.equal(fingerprint(a), fingerprint(a))
  t.not(fingerprint(a), fingerprint(b))
})

t.test('different states stay different under symmetry', async (t) => {
  const symmetric = new Fingerprinter(config, true)
  const initial = createWorld(config)
  const sent = after(initial, { kind: 'submit', client: 0 })
  t.not(symmetric.of(initial), symmetric.of(sent))
  t.not(symmetric.of(sent), symmetric.of(preparedAt('p1')))
})

t.test('a participant state that names participants falls back to every renaming', async (t) => {
  const symmetric = new Fingerprinter(config, true)
  const [a, b] = [preparedAt('p1'), preparedAt('p2')]
  a.nodes.p3!.store.set('peer', 'p1')
  b.nodes.p3!.store.set('peer', 'p2')
  t.equal(symmetric.of(a), symmetric.of(b), 'p3 naming p1 in one world is p3 naming p2 in its mirror image')
  b.nodes.p3!.store.set('peer', 'p3')
  t.not(new Fingerprinter(config, true).of(a), new Fingerprinter(config, true).of(b))
})

t.test('a Set in a world state is refused (it would print as {} whatever it holds)', async (t) => {
  const world = preparedAt('p1')
  world.nodes.p2!.store.set('oops', new Set(['a']))
  t.throws(() => new Fingerprinter(config, true).of(world), /a Set in a world state/)
  t.throws(() => fingerprint(world), /a Set in a world state/)
})

t.test('null values and missing ones print differently from absent keys', async (t) => {
  const [a, b] = [preparedAt('p1'), preparedAt('p1')]
  b.nodes.p2!.store.set('nothing', null)
  t.not(fingerprint(a), fingerprint(b), 'a key holding null is still a key')
  t.not(new Fingerprinter(config, true).of(a), new Fingerprinter(config, true).of(b))
})
