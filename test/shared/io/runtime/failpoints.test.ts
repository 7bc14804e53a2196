import t from 'tap'
import { Failpoints } from '../../../../shared/io/runtime/failpoints.ts'

t.test('failpoints are inert unless armed', async (t) => {
  const crashed: string[] = []
  const f = new Failpoints(undefined, (name) => crashed.push(name))
  t.equal(f.active, false)
  f.hit('participant.beforePrepareLogged')
  t.same(crashed, [])
})

t.test('an armed failpoint crashes on its Nth hit only', async (t) => {
  const crashed: string[] = []
  const f = new Failpoints(' coordinator.midCommitFanout=crash@2 , participant.afterApplyBeforeAck=crash', (name) => crashed.push(name))
  t.equal(f.active, true)
  f.hit('coordinator.midCommitFanout')
  t.same(crashed, [])
  t.equal(f.fires('coordinator.midCommitFanout'), true)
  f.hit('coordinator.midCommitFanout')
  f.hit('participant.afterApplyBeforeAck')
  t.same(crashed, ['participant.afterApplyBeforeAck'])
  f.crash('coordinator.beforeEndLogged')
  t.same(crashed, ['participant.afterApplyBeforeAck', 'coordinator.beforeEndLogged'])
})

t.test('an unknown name or action is refused with one clear line', async (t) => {
  t.throws(() => new Failpoints('participant.nope=crash'), /TXN_FAILPOINTS: "participant.nope=crash" is not <name>=crash\[@N\] with a known name/)
  t.throws(() => new Failpoints('participant.beforePrepareLogged=sleep'), /TXN_FAILPOINTS/)
})
