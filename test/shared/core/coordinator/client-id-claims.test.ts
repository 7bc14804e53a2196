import t from 'tap'
import { CoordinatorMachine } from '../../../../shared/core/coordinator/machine.ts'
import type { CoordinatorEffect, CoordinatorEvent, CoordinatorOptions } from '../../../../shared/core/coordinator/types.ts'
import { claimKey, claimValue, parseClaim } from '../../../../shared/core/protocol/client-id-claim.ts'
import { writesDigest } from '../../../../shared/core/protocol/hash.ts'

/** Coordinator c2 with client-id claims: the replicas, not its own records, say whether an id's transaction committed. */
const P = ['p1', 'p2', 'p3']
type E = CoordinatorEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const base: CoordinatorOptions = { participants: P, defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true, name: 'c2', coordinators: ['c1', 'c2'], clientIdClaims: true }
const writes = [{ key: 'a', value: '1' }]

function setup(opts: Partial<CoordinatorOptions> = {}) {
  const m = new CoordinatorMachine({ ...base, ...opts })
  const step = (e: E): CoordinatorEffect[] => m.step({ ...e, now: 1000 })
  step({ type: 'start', epoch: 1, epochs: [{ epoch: 1, startedAt: 1000 }], records: [] })
  for (const p of P) step({ type: 'connected', participant: p })
  return { m, step }
}
const of = <T extends CoordinatorEffect['type']>(effects: CoordinatorEffect[], type: T) => effects.filter((e): e is Extract<CoordinatorEffect, { type: T }> => e.type === type)
const claimed = (txId: string, digest = writesDigest(writes)) => ({ code: 'precondition_failed' as const, key: claimKey('order-7'), message: 'key exists at version 1', found: claimValue({ txId, digest }) })

t.test('a request with a client id claims it, ifAbsent, in the same PREPARE; the client sees neither the claim nor its version', async (t) => {
  const { m, step } = setup()
  const prepares = of(step({ type: 'request', reqId: 1, writes, clientId: 'order-7' }), 'send')
  t.equal(prepares.length, 3)
  const sent = (prepares[0]!.msg as { writes: { key: string; value: string; ifAbsent?: boolean }[] }).writes
  t.same(sent.map((w) => w.key), ['a', claimKey('order-7')])
  t.same(parseClaim(sent[1]!.value), { txId: 'c2:1.1', digest: writesDigest(writes) }, 'the claim names the transaction and the digest of the client writes')
  t.equal(sent[1]!.ifAbsent, true)
  const versions = { a: 1, [claimKey('order-7')]: 1 }
  const last = P.map((p) => step({ type: 'message', from: p, msg: { type: 'vote', txId: 'c2:1.1', yes: true, versions } })).at(-1)!
  const persisted = step({ type: 'persisted', token: of(last, 'persist')[0]!.token })
  t.same(of(persisted, 'reply')[0]!.body, { ok: true, result: { txId: 'c2:1.1', outcome: 'committed', id: 'order-7', versions: { a: 1 } } })
  t.same(m.describe('c2:1.1', 1000)?.keys, ['a'], 'the status API shows the client keys only')
  const plain = setup()
  t.same((of(plain.step({ type: 'request', reqId: 1, writes }), 'send')[0]!.msg as { writes: unknown[] }).writes, writes, 'no client id, no claim')
})

t.test('the id was claimed by a committed transaction (another coordinator, or past retention): the retry is answered with it, once its own abort is durable', async (t) => {
  const { m, step } = setup()
  step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  step({ type: 'request', reqId: 2, writes, clientId: 'order-7' }) // a second retry meanwhile waits on the same attempt
  const no = step({ type: 'message', from: 'p2', msg: { type: 'vote', txId: 'c2:1.1', yes: false, reason: claimed('c1:4.2') } })
  t.same(of(no, 'reply'), [], 'no answer before the abort is durable')
  t.same(of(no, 'send').map((s) => s.msg.type), ['abort', 'abort', 'abort'], 'the attempt aborts everywhere')
  const write = of(no, 'persist')[0]!
  t.equal(write.sync, true, 'synced: no restart may answer the id with this abort')
  t.match(write.ops, [{ type: 'put', value: { txId: 'c2:1.1', outcome: 'aborted' } }])
  t.notOk('clientId' in (write.ops[0] as { value: object }).value, 'the record forgets the id')
  const answered = of(step({ type: 'persisted', token: write.token }), 'reply')
  t.same(answered.map((r) => r.reqId), [1, 2])
  t.same(answered[0]!.body, { ok: true, result: { txId: 'c1:4.2', id: 'order-7', outcome: 'committed' } })
  t.equal(m.describeClient('order-7'), undefined, 'this coordinator holds no record for the id')
  t.match(of(step({ type: 'request', reqId: 3, writes, clientId: 'order-7' }), 'send')[0], { msg: { type: 'prepare', txId: 'c2:1.2' } }, 'the next retry asks the replicas again')
})

t.test('the same id with other writes: 409 id_conflict; the id still in doubt: id_in_doubt; any other NO is an ordinary abort', async (t) => {
  const conflict = setup()
  conflict.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  const no = conflict.step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: 'c2:1.1', yes: false, reason: claimed('c1:4.2', 'other') } })
  t.match(of(conflict.step({ type: 'persisted', token: of(no, 'persist')[0]!.token }), 'reply')[0]!.body, { ok: false, error: 'id_conflict', message: /transaction c1:4.2 with other writes/ })

  const doubt = setup()
  doubt.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  const held = doubt.step({ type: 'message', from: 'p3', msg: { type: 'vote', txId: 'c2:1.1', yes: false, reason: { code: 'conflict', key: claimKey('order-7'), message: 'key is held by prepared transaction c1:4.2' } } })
  t.match(of(doubt.step({ type: 'persisted', token: of(held, 'persist')[0]!.token }), 'reply')[0]!.body, { ok: false, error: 'id_in_doubt', message: /held by prepared transaction c1:4.2 at p3\)/ })

  const other = setup()
  other.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  const plain = other.step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: 'c2:1.1', yes: false, reason: { code: 'precondition_failed', key: 'a', message: 'expected version 0, found 1' } } })
  t.match(of(plain, 'reply')[0]!.body, { ok: true, result: { outcome: 'aborted', id: 'order-7' } }, 'a NO about a client key: the attempt is aborted, answered at once')
  const unreadable = setup()
  unreadable.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  const bad = unreadable.step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: 'c2:1.1', yes: false, reason: { code: 'precondition_failed', key: claimKey('order-7'), message: 'key exists at version 1', found: 'not a claim' } } })
  t.same(of(bad, 'reply'), [], 'a claim it cannot read: no outcome guessed')
  t.match(of(unreadable.step({ type: 'persisted', token: of(bad, 'persist')[0]!.token }), 'reply')[0]!.body, { ok: false, error: 'id_in_doubt' }, 'the id stays unanswered')
})

t.test('with several coordinators, an attempt that aborts before any participant checked its id is no answer for the id', async (t) => {
  // c1 may be deciding this id's first attempt: c2's abort (p3 down) must not tell the client "aborted".
  const down = setup()
  down.step({ type: 'disconnected', participant: 'p3' })
  const refused = down.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  t.same(of(refused, 'reply'), [], 'no answer before the abort, without the id, is durable')
  const write = of(refused, 'persist').find((p) => p.sync)!
  t.notOk('clientId' in (write.ops[0] as { value: object }).value, 'the record forgets the id')
  t.match(of(down.step({ type: 'persisted', token: write.token }), 'reply')[0]!.body, { ok: false, error: 'id_in_doubt', message: /ended \(participant_unavailable\) before any participant checked the client id/ })
  t.equal(down.m.describeClient('order-7'), undefined, 'a retry runs afresh')

  const silent = setup()
  const started = silent.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  const timer = of(started, 'setTimer')[0]!.timer
  const timedOut = silent.step({ type: 'timer', timer })
  t.match(of(silent.step({ type: 'persisted', token: of(timedOut, 'persist').find((p) => p.sync)!.token }), 'reply')[0]!.body, { ok: false, error: 'id_in_doubt', message: /vote_timeout/ })

  const checked = setup()
  checked.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' })
  checked.step({ type: 'message', from: 'p1', msg: { type: 'vote', txId: 'c2:1.1', yes: true, versions: { a: 1 } } })
  const late = checked.step({ type: 'timer', timer: of(started, 'setTimer')[0]!.timer })
  t.match(of(late, 'reply')[0]!.body, { ok: true, result: { outcome: 'aborted', id: 'order-7', reasons: [{ code: 'vote_timeout' }] } }, 'p1 checked the id and found it free: the abort answers the id')

  const alone = setup({ coordinators: ['c2'] })
  alone.step({ type: 'disconnected', participant: 'p3' })
  t.match(of(alone.step({ type: 'request', reqId: 1, writes, clientId: 'order-7' }), 'reply')[0]!.body, { ok: true, result: { outcome: 'aborted', reasons: [{ code: 'participant_unavailable' }] } }, 'one coordinator decides every attempt of an id: its abort is the answer')
})

t.test('parseClaim reads only what claimValue writes', async (t) => {
  t.same(parseClaim(claimValue({ txId: 'c1:1.1', digest: 'ab' })), { txId: 'c1:1.1', digest: 'ab' })
  for (const value of ['', '{', '[]', '["a"]', '["a",1]', '[1,"b"]', '{"txId":"a","digest":"b"}']) t.equal(parseClaim(value), undefined, JSON.stringify(value))
})
