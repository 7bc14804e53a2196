import t from 'tap'
import { ParticipantMachine } from '../../../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions } from '../../../../shared/core/participant/types.ts'

/** A participant with two coordinators, c1 and c2: each transaction's messages go to the coordinator named in its id. */
type E = ParticipantEvent extends infer X ? (X extends unknown ? Omit<X, 'now'> : never) : never
const twoPc: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true, coordinators: ['c1', 'c2'] }
const paxos: ParticipantOptions = { ...twoPc, protocol: 'paxos-commit', name: 'p1', participants: ['p1', 'p2', 'p3'], recoveryAfterMs: 300 }
const writes = [{ key: 'a', value: 'x' }]

function setup(opts: ParticipantOptions) {
  const m = new ParticipantMachine(opts)
  let now = 1000
  const step = (e: E, at?: number): ParticipantEffect[] => {
    if (at !== undefined) now = at
    return m.step({ ...e, now })
  }
  step({ type: 'start', entries: [], prepared: [], resolved: [], acceptors: [] })
  const complete = (effects: ParticipantEffect[]): ParticipantEffect[] => effects.filter((e) => e.type === 'persist').flatMap((p) => step({ type: 'persisted', token: p.token }))
  return { m, step, complete }
}
const sends = (effects: ParticipantEffect[]) => effects.filter((e): e is Extract<ParticipantEffect, { type: 'send' }> => e.type === 'send').map((e) => [e.to, e.msg.type, 'txId' in e.msg ? e.msg.txId : 'reqId' in e.msg ? e.msg.reqId : undefined])

t.test('votes, acks and queries go to the coordinator named in the transaction id', async (t) => {
  const { step, complete } = setup(twoPc)
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  t.same(sends(complete(step({ type: 'message', from: 'c2', msg: { type: 'prepare', txId: 'c2:1.1', writes } }))), [['c2', 'vote', 'c2:1.1']])
  t.same(sends(complete(step({ type: 'message', from: 'c2', msg: { type: 'commit', txId: 'c2:1.1' } }))), [['c2', 'ack', 'c2:1.1']])
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes: [{ key: 'b', value: 'y' }] } }))
  step({ type: 'disconnected', coordinator: 'c1' })
  t.same(sends(step({ type: 'timer', timer: { kind: 'sweep' } }, 1500)), [], 'its coordinator is gone: no query goes to the other one')
  t.same(sends(step({ type: 'connected', coordinator: 'c2' })), [], "the other coordinator's link coming up asks nothing")
  t.same(sends(step({ type: 'connected', coordinator: 'c1' })), [['c1', 'query', 'c1:1.1']], 'its own coordinator is asked once back')
})

t.test("reads: each coordinator's request ids are its own, and a lost link drops only its reads", async (t) => {
  const { m, step } = setup(twoPc)
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes } })
  t.match(step({ type: 'message', from: 'c1', msg: { type: 'read', reqId: 7, key: 'a' } }), [{ type: 'setTimer', timer: { kind: 'read', reqId: 7, from: 'c1' } }])
  t.match(step({ type: 'message', from: 'c2', msg: { type: 'read', reqId: 7, key: 'a' } }), [{ type: 'setTimer', timer: { kind: 'read', reqId: 7, from: 'c2' } }])
  t.equal(m.state.waitingReads, 2, 'the same id from two coordinators is two reads')
  t.same(step({ type: 'disconnected', coordinator: 'c1' }), [{ type: 'cancelTimer', timer: { kind: 'read', reqId: 7, from: 'c1' } }])
  t.equal(m.state.waitingReads, 1)
  t.same(sends(step({ type: 'timer', timer: { kind: 'read', reqId: 7, from: 'c2' } })), [['c2', 'readResult', 7]], 'answered on the link that asked')
  t.same(sends(step({ type: 'message', from: 'c2', msg: { type: 'read', reqId: 8, key: 'b' } })), [['c2', 'readResult', 8]])
})

t.test("Paxos Commit: a participant leads the recovery when its transaction's coordinator is gone, whoever else is there", async (t) => {
  const { m, step, complete } = setup(paxos)
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  const voted = complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes } }))
  t.same(sends(voted), [['c1', 'vote', 'c1:1.1']])
  t.same(sends(step({ type: 'timer', timer: { kind: 'recover', txId: 'c1:1.1' } })), [['c1', 'query', 'c1:1.1']], 'its coordinator is there: asked to lead')
  step({ type: 'disconnected', coordinator: 'c1' })
  const led = step({ type: 'timer', timer: { kind: 'recover', txId: 'c1:1.1' } })
  t.same(sends(led), [], 'nothing to c2: it has no record of c1:1.1')
  t.ok(m.state.leading.has('c1:1.1'), 'p1 leads it itself')
  // Its ballot: leaders are c1, c2, p1, p2, p3, so p1's index is 2.
  t.equal(m.state.leading.get('c1:1.1')!.ballot % 5, 2)
  t.match(m.inDoubt(1000), [{ txId: 'c1:1.1', recovery: { leader: 'p1' } }])
  // An acceptor's 2b for a ballot of c2 goes to c2, on its coordinator link.
  const accepted = complete(step({ type: 'message', msg: { type: 'phase2a', txId: 'c2:4.4', ballot: 5 * 9 + 1, values: { p1: 'aborted', p2: 'aborted', p3: 'aborted' } } }))
  t.same(sends(accepted), [['c2', 'phase2b', 'c2:4.4']])
})

t.test("Paxos Commit: only the transaction's own coordinator confirms a marker", async (t) => {
  const { m, step, complete } = setup(paxos)
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  complete(step({ type: 'message', from: 'c1', msg: { type: 'abort', txId: 'c1:1.1' } }))
  const swept = step({ type: 'timer', timer: { kind: 'sweep' } }, 3000)
  const asks = complete(swept)
  t.same(sends(asks), [['c1', 'resolved', 'c1:1.1']], 'the ask goes to c1 alone')
  for (const p of ['p2', 'p3']) step({ type: 'message', msg: { type: 'resolved', txId: 'c1:1.1', from: p, outcome: 'aborted', ask: false } })
  step({ type: 'message', msg: { type: 'resolved', txId: 'c1:1.1', from: 'c2', outcome: 'aborted', ask: false } })
  t.equal(m.state.confirmations.get('c1:1.1')?.coordinator, false, "c2's word does not count for c1's transaction")
  step({ type: 'message', msg: { type: 'resolved', txId: 'c1:1.1', from: 'c1', outcome: 'aborted', ask: false } })
  t.equal(m.state.confirmations.get('c1:1.1')?.coordinator, true)
  step({ type: 'timer', timer: { kind: 'sweep' } }, 3100)
  t.notOk(m.state.resolved.has('c1:1.1'), 'forgotten once its coordinator and every peer confirmed')
})

t.test('a status lookup from another coordinator: what this participant knows, told to the one that asked', async (t) => {
  const { step, complete } = setup(twoPc)
  step({ type: 'connected', coordinator: 'c1' })
  step({ type: 'connected', coordinator: 'c2' })
  const ask = (txId: string) => step({ type: 'message', from: 'c2', msg: { type: 'statusQuery', reqId: 7, txId } }).filter((e) => e.type === 'send').map((e) => [e.to, e.msg])
  t.same(ask('c1:1.1'), [['c2', { type: 'statusResult', reqId: 7, txId: 'c1:1.1', state: 'unknown' }]], 'never seen')
  t.same(step({ type: 'message', from: 'c1', msg: { type: 'admission', admitted: true } }), [], 'an admission (of the replica) is the adapter\'s: no effect')
  const logging = step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.1', writes } })
  t.match(ask('c1:1.1'), [['c2', { state: 'prepared' }]], 'its PREPARED record is being written: not decided')
  complete(logging)
  t.match(ask('c1:1.1'), [['c2', { state: 'prepared' }]], 'voted YES, outcome unknown')
  const applying = step({ type: 'message', from: 'c1', msg: { type: 'commit', txId: 'c1:1.1' } })
  t.match(ask('c1:1.1'), [['c2', { state: 'committed' }]], 'the COMMIT is being applied')
  complete(applying)
  t.match(ask('c1:1.1'), [['c2', { state: 'committed' }]], 'applied: its resolved marker remembers it')
  complete(step({ type: 'message', from: 'c1', msg: { type: 'prepare', txId: 'c1:1.2', writes: [{ key: 'b', value: 'y' }] } }))
  const aborting = step({ type: 'message', from: 'c1', msg: { type: 'abort', txId: 'c1:1.2' } })
  t.match(ask('c1:1.2'), [['c2', { state: 'aborted' }]], 'the ABORT is being written')
  complete(aborting)
  t.match(ask('c1:1.2'), [['c2', { state: 'aborted' }]], 'aborted, remembered')
})
