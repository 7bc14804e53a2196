import t from 'tap'
import { ballotOwner, coordinatorMinRound, leaderCount, leaderIndex, nextBallot, quorumSize, ROUNDS_PER_EPOCH } from '../../../../shared/core/paxos/ballot.ts'

const names = ['p1', 'p2', 'p3']

t.test('a quorum is a majority: any two meet', async (t) => {
  t.same([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3])
  for (let n = 1; n <= 7; n++) t.ok(2 * quorumSize(n) > n, `${n} acceptors`)
})

t.test('each ballot above 0 has one owner, and a leader gets only its own', async (t) => {
  t.equal(leaderCount(names), 4)
  t.equal(leaderIndex(names, undefined), 0)
  t.equal(leaderIndex(names, 'p3'), 3)
  t.throws(() => leaderIndex(names, 'p9'), /p9 is not a participant/)
  t.equal(ballotOwner(names, 0), undefined, 'ballot 0 reports to the coordinator')
  for (const [index, name] of [[0, undefined], [1, 'p1'], [2, 'p2'], [3, 'p3']] as const) {
    const seen = new Set<number>()
    let above = 0
    for (let i = 0; i < 5; i++) {
      const b = nextBallot(names, index, above)
      t.ok(b > above, `${b} > ${above}`)
      t.equal(ballotOwner(names, b), name)
      t.notOk(seen.has(b))
      seen.add(b)
      above = b + (i % 2) // also from a ballot that is not its own
    }
  }
})

t.test('the coordinator starts each epoch above all its earlier ballots', async (t) => {
  const epoch1 = nextBallot(names, 0, 0, coordinatorMinRound(1))
  t.equal(epoch1, ROUNDS_PER_EPOCH * 4)
  t.ok(nextBallot(names, 0, 0, coordinatorMinRound(2)) > nextBallot(names, 0, epoch1 + 40, coordinatorMinRound(1)))
  t.equal(nextBallot(names, 2, epoch1), epoch1 + 6, 'a participant goes just above what it saw')
})
