import t from 'tap'
import { beginBallot, neededAcceptances, onAccepted, onPromise, outcomeOf, proposal } from '../../../../shared/core/paxos/leader.ts'

const instances = ['p1', 'p2', 'p3']

t.test('phase 1: the value accepted at the highest ballot, else aborted', async (t) => {
  const values = proposal([{ p1: { ballot: 0, value: 'prepared' }, p2: { ballot: 4, value: 'aborted' } }, { p2: { ballot: 8, value: 'prepared' } }], instances)
  t.same({ ...values }, { p1: 'prepared', p2: 'prepared', p3: 'aborted' })
  t.same({ ...proposal([], instances, { leaderProposesPrepared: true }) }, { p1: 'prepared', p2: 'prepared', p3: 'prepared' }, 'the flawed variant')
})

t.test('a leader proposes once a quorum promised, and learns once a quorum accepted', async (t) => {
  const l = beginBallot('1.1', 7, 1, 3)
  t.equal(onPromise(l, 'p1', { p1: { ballot: 0, value: 'prepared' } }, instances, 2), undefined)
  t.equal(onPromise(l, 'p1', {}, instances, 2), undefined, 'a duplicate 1b counts once')
  t.same({ ...onPromise(l, 'p2', {}, instances, 2)! }, { p1: 'prepared', p2: 'aborted', p3: 'aborted' })
  t.equal(onPromise(l, 'p3', {}, instances, 2), undefined, 'phase 1 is over')
  t.equal(onAccepted(l, 'p1', 2), undefined)
  t.equal(onAccepted(l, 'p1', 2), undefined, 'a duplicate 2b counts once')
  t.equal(onAccepted(l, 'p3', 2), 'aborted')
  t.equal(beginBallot('1.1', 7, 1, 0).phase, 'promising')
  t.equal(onAccepted(beginBallot('1.1', 7, 1, 0), 'p1', 1), undefined, 'no 2b counts before phase 2')
})

t.test('committed only if every instance chose prepared; the small-quorum bug takes one fewer', async (t) => {
  t.equal(outcomeOf({ p1: 'prepared', p2: 'prepared' }), 'committed')
  t.equal(outcomeOf({ p1: 'prepared', p2: 'aborted' }), 'aborted')
  t.equal(neededAcceptances(2, undefined), 2)
  t.equal(neededAcceptances(2, { smallQuorum: true }), 1)
})
