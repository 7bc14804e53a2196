import t from 'tap'
import { ballotOwner, coordinatorMinRound, isCoordinator, leaderCount, leaderIndex, nextBallot, quorumSize, ROUNDS_PER_EPOCH, type Leaders } from '../../../../shared/core/paxos/ballot.ts'

const one: Leaders = { coordinators: ['coordinator'], participants: ['p1', 'p2', 'p3'] }
const two: Leaders = { coordinators: ['c1', 'c2'], participants: ['p1', 'p2', 'p3'] }

t.test('a quorum is a majority: any two meet', async (t) => {
  t.same([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3])
  for (let n = 1; n <= 7; n++) t.ok(2 * quorumSize(n) > n, `${n} acceptors`)
})

for (const leaders of [one, two]) {
  const names = [...leaders.coordinators, ...leaders.participants]
  t.test(`each ballot above 0 has one owner, and a leader gets only its own (${leaders.coordinators.length} coordinators)`, async (t) => {
    t.equal(leaderCount(leaders), names.length)
    t.same(names.map((n) => leaderIndex(leaders, n)), names.map((_, i) => i), 'coordinators first, then participants')
    t.throws(() => leaderIndex(leaders, 'p9'), /p9 is neither a coordinator nor a participant/)
    t.equal(ballotOwner(leaders, 0), undefined, "ballot 0 reports to the transaction's own coordinator")
    t.same(names.map((n) => isCoordinator(leaders, n)), names.map((n) => leaders.coordinators.includes(n)))
    const everyone = new Set<number>()
    for (const name of names) {
      let above = 0
      for (let i = 0; i < 5; i++) {
        const b = nextBallot(leaders, leaderIndex(leaders, name), above)
        t.ok(b > above, `${b} > ${above}`)
        t.equal(ballotOwner(leaders, b), name)
        t.notOk(everyone.has(b), `${b} is nobody else's`)
        everyone.add(b)
        above = b + (i % 2) // also from a ballot that is not its own
      }
    }
  })
}

t.test('the coordinator starts each epoch above all its earlier ballots', async (t) => {
  const epoch1 = nextBallot(one, 0, 0, coordinatorMinRound(1))
  t.equal(epoch1, ROUNDS_PER_EPOCH * 4)
  t.ok(nextBallot(one, 0, 0, coordinatorMinRound(2)) > nextBallot(one, 0, epoch1 + 40, coordinatorMinRound(1)))
  t.equal(nextBallot(one, 2, epoch1), epoch1 + 6, 'a participant goes just above what it saw')
  t.equal(nextBallot(two, 1, 0, coordinatorMinRound(1)), ROUNDS_PER_EPOCH * 5 + 1, 'a second coordinator: its own index in the same epoch range')
})
