import t from 'tap'
import { assertCoordinatorEffects, assertCoordinatorState } from '../../../shared/core/coordinator/invariants.ts'
import { CoordinatorMachine } from '../../../shared/core/coordinator/machine.ts'
import type { CoordinatorOptions, CoordinatorState, Txn } from '../../../shared/core/coordinator/types.ts'
import { assertParticipantEffects, assertParticipantState } from '../../../shared/core/participant/invariants.ts'
import { ParticipantMachine } from '../../../shared/core/participant/machine.ts'
import type { ParticipantOptions, ParticipantState, PreparedTxn } from '../../../shared/core/participant/types.ts'

const coordinatorOptions: CoordinatorOptions = { participants: ['p1', 'p2'], defaultTimeoutMs: 100, maxInFlight: 10, retentionMs: 1000, gcIntervalMs: 50, checkInvariants: true }
const participantOptions: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 100, queryAfterMs: 200, retentionMs: 1000, maxRemembered: 100, checkInvariants: true }
const violation = (message: RegExp) => ({ name: 'InvariantViolation', message })

function coordinatorWith(txn: Partial<Txn>): CoordinatorState {
  const state = new CoordinatorMachine(coordinatorOptions).state
  const full: Txn = { txId: '1.1', writes: [], writesHash: 0, keys: ['a'], phase: 'preparing', votes: new Map(), acks: [], reasons: [], versions: new Map(), createdAt: 0, ended: false, waiters: [], recovered: false, ...txn }
  state.txns.set(full.txId, full)
  state.inFlight = full.phase === 'preparing' || full.phase === 'committing' ? 1 : 0
  return state
}

t.test('coordinator effects: COMMIT, a committed reply and PREPARE only in the phase that allows them', async (t) => {
  const committing = coordinatorWith({ phase: 'committing' })
  t.throws(() => { assertCoordinatorEffects(committing, [{ type: 'send', to: 'p1', msg: { type: 'commit', txId: '1.1' } }]) }, violation(/^COMMIT sent for 1\.1 in phase committing: the decision is not durable/))
  t.throws(() => { assertCoordinatorEffects(committing, [{ type: 'reply', reqId: 1, body: { ok: true, result: { txId: '1.1', outcome: 'committed' } } }]) }, violation(/client told 1\.1 committed before its decision was durable/))
  t.throws(() => { assertCoordinatorEffects(committing, [{ type: 'send', to: 'p1', msg: { type: 'prepare', txId: '1.1', writes: [{ key: 'a', value: 'x' }] } }]) }, violation(/PREPARE sent for 1\.1 in phase committing/))
  t.throws(() => { assertCoordinatorEffects(committing, [{ type: 'send', to: 'p1', msg: { type: 'commit', txId: '9.9' } }]) }, violation(/phase unknown/))
  t.throws(() => { assertCoordinatorEffects(committing, [{ type: 'send', to: 'p1', msg: { type: 'prepare', txId: '9.9', writes: [{ key: 'a', value: 'x' }] } }]) }, violation(/PREPARE sent for 9\.9 in phase unknown/))
  assertCoordinatorEffects(coordinatorWith({ phase: 'committed', ended: true }), [{ type: 'send', to: 'p1', msg: { type: 'commit', txId: '1.1' } }, { type: 'send', to: 'p1', msg: { type: 'abort', txId: '1.1' } }])
  t.pass('COMMIT of a committed transaction, and other messages, pass')
})

t.test('coordinator state: every broken invariant is named', async (t) => {
  const noYes = coordinatorWith({ phase: 'committing', votes: new Map([['p1', 'yes']]) })
  t.throws(() => { assertCoordinatorState(noYes, coordinatorOptions) }, violation(/1\.1 is committing without a YES from p2/))
  t.throws(() => { assertCoordinatorState(coordinatorWith({ phase: 'aborted' }), coordinatorOptions) }, violation(/1\.1 is aborted but not ended/))
  t.throws(() => { assertCoordinatorState(coordinatorWith({ phase: 'committed', votes: new Map([['p1', 'yes'], ['p2', 'yes']]), waiters: [3] }), coordinatorOptions) }, violation(/1\.1 is committed with clients still waiting/))
  const counted = coordinatorWith({})
  counted.inFlight = 2
  t.throws(() => { assertCoordinatorState(counted, coordinatorOptions) }, violation(/inFlight is 2 but 1 transactions are undecided/))
  const byId = coordinatorWith({})
  byId.byClientId.set('c1', '1.1')
  t.throws(() => { assertCoordinatorState(byId, coordinatorOptions) }, violation(/client id c1 points at 1\.1, which does not carry it/))
  const orphanRead = coordinatorWith({})
  orphanRead.reads.set(7, { participant: 'p1', kind: 'read' })
  t.throws(() => { assertCoordinatorState(orphanRead, coordinatorOptions) }, violation(/read 7 waits on p1, which is not connected/))
  const twice = coordinatorWith({})
  twice.connected = ['p1', 'p1']
  t.throws(() => { assertCoordinatorState(twice, coordinatorOptions) }, violation(/connected participants p1,p1 are not a set of known ones/))
  assertCoordinatorState(coordinatorWith({ phase: 'committed', recovered: true, ended: true }), coordinatorOptions)
  t.pass('a recovered commit needs no votes in memory')
})

function participantWith(txn?: Partial<PreparedTxn>): ParticipantState {
  const state = new ParticipantMachine(participantOptions).state
  if (txn) {
    const full: PreparedTxn = { txId: '1.1', writes: [{ key: 'a', value: 'x' }], versions: new Map([['a', 1]]), preparedAt: 0, phase: 'prepared', abortRequested: false, lastQueryAt: 0, ...txn }
    state.prepared.set(full.txId, full)
    state.locks.set('a', full.txId)
  }
  return state
}

t.test('participant effects: a YES only once the PREPARED record is durable, an ACK only once applied', async (t) => {
  t.throws(() => { assertParticipantEffects(participantWith({ phase: 'logging' }), [{ type: 'send', to: 'coordinator', msg: { type: 'vote', txId: '1.1', yes: true } }], participantOptions) }, violation(/YES vote sent for 1\.1 in phase logging: its PREPARED record is not durable/))
  t.throws(() => { assertParticipantEffects(participantWith(), [{ type: 'send', to: 'coordinator', msg: { type: 'vote', txId: '2.2', yes: true } }], participantOptions) }, violation(/in phase unknown/))
  t.throws(() => { assertParticipantEffects(participantWith({ phase: 'applying' }), [{ type: 'send', to: 'coordinator', msg: { type: 'ack', txId: '1.1' } }], participantOptions) }, violation(/ACK sent for 1\.1, which is not applied/))
  const aborted = participantWith()
  aborted.resolved.set('3.3', { txId: '3.3', outcome: 'aborted', at: 0 })
  t.throws(() => { assertParticipantEffects(aborted, [{ type: 'send', to: 'coordinator', msg: { type: 'ack', txId: '3.3' } }], participantOptions) }, violation(/ACK sent for 3\.3, which is not applied/))
  assertParticipantEffects(participantWith({ phase: 'logging' }), [{ type: 'send', to: 'coordinator', msg: { type: 'vote', txId: '1.1', yes: true } }, { type: 'send', to: 'coordinator', msg: { type: 'vote', txId: '1.1', yes: false } }, { type: 'send', to: 'coordinator', msg: { type: 'query', txId: '1.1' } }, { type: 'send', to: 'coordinator', msg: { type: 'ack', txId: '2.2' } }, { type: 'log', level: 'info', msg: 'x' }], { ...participantOptions, unsafeBugs: { voteBeforeDurable: true } })
  t.pass('the flawed test-only variant is let through, for the simulator to catch')
})

t.test('participant state: every broken invariant is named', async (t) => {
  const orphan = participantWith()
  orphan.locks.set('b', '7.7')
  t.throws(() => { assertParticipantState(orphan) }, violation(/key b is locked by 7\.7, which is not a prepared transaction writing it/))
  const waiting = participantWith()
  waiting.reads.set('z', [{ reqId: 1, key: 'z', from: 'coordinator' }])
  waiting.waitingReads = 1
  t.throws(() => { assertParticipantState(waiting) }, violation(/reads wait on key z, which is not locked/))
  const miscounted = participantWith({})
  miscounted.reads.set('a', [{ reqId: 1, key: 'a', from: 'coordinator' }])
  t.throws(() => { assertParticipantState(miscounted) }, violation(/waitingReads is 0 but 1 reads wait/))
  const both = participantWith({})
  both.resolved.set('1.1', { txId: '1.1', outcome: 'aborted', at: 0 })
  t.throws(() => { assertParticipantState(both) }, violation(/1\.1 is both prepared and resolved/))
  t.throws(() => { assertParticipantState(participantWith({ versions: new Map() })) }, violation(/1\.1 has a write without a version/))
  const zero = participantWith()
  zero.kv.set('a', { value: 'x', version: 0 })
  t.throws(() => { assertParticipantState(zero) }, violation(/key a holds version 0/))
  assertParticipantState(participantWith({}))
  t.pass('a consistent state passes')
})
