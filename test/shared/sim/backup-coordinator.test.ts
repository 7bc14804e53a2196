import t from 'tap'
import { ParticipantMachine } from '../../../shared/core/participant/machine.ts'
import { backupDecision } from '../../../shared/sim/backup-coordinator.ts'
import { bugConfigs } from '../../../shared/sim/configs.ts'
import { applyEvent, createWorld, enabledEvents, participantOptions, type SimEvent, type World } from '../../../shared/sim/world.ts'

const config = bugConfigs['naive-backup-coordinator']!

function apply(world: World, pick: (e: SimEvent) => boolean): string {
  const event = enabledEvents(config, world).find(pick)
  if (!event) throw new Error('no such event enabled')
  return applyEvent(config, world, event)
}

t.test('the naive backup decides commit only when every participant is reachable and prepared or committed', async (t) => {
  const committed = new ParticipantMachine(participantOptions(config)).state
  committed.resolved.set('1.1', { txId: '1.1', outcome: 'committed', at: 0 })
  const aborted = new ParticipantMachine(participantOptions(config)).state
  aborted.resolved.set('1.1', { txId: '1.1', outcome: 'aborted', at: 0 })
  t.equal(backupDecision('1.1', [{ participant: 'p1', state: committed }, { participant: 'p2', state: committed }]), 'commit')
  t.equal(backupDecision('1.1', [{ participant: 'p1', state: committed }, { participant: 'p2', state: aborted }]), 'abort')
  t.equal(backupDecision('1.1', [{ participant: 'p1', state: committed }, { participant: 'p2', state: undefined }]), 'abort', 'an unreachable participant counts as not prepared')
})

t.test('the backup in the world: what it sees of each participant, and its messages lost with a crashed receiver', async (t) => {
  const world = createWorld(config)
  apply(world, (e) => e.kind === 'submit')
  apply(world, (e) => e.kind === 'deliver' && world.net.find((m) => m.id === e.msg)?.to === 'p1')
  apply(world, (e) => e.kind === 'persist' && e.node === 'p1')
  apply(world, (e) => e.kind === 'crash' && e.node === 'coordinator')
  t.match(apply(world, (e) => e.kind === 'backup'), /^BACKUP coordinator sees p1:prepared p2:working p3:working and decides ABORT for 1\.1$/)
  t.equal(world.net.filter((m) => m.link === 'backup').length, 3, 'an ABORT to every participant it reached')
  apply(world, (e) => e.kind === 'crash' && e.node === 'p2')
  t.same(world.net.filter((m) => m.link === 'backup').map((m) => m.to).sort(), ['p1', 'p3'], 'the crashed participant\'s ABORT is lost with it')
  apply(world, (e) => e.kind === 'deliver' && world.net.find((m) => m.id === e.msg)?.to === 'p1')
  apply(world, (e) => e.kind === 'persist' && e.node === 'p1')
  // Asked again (a second backup is not offered, so applied directly), it sees p1's outcome and p2 down.
  t.match(applyEvent(config, world, { kind: 'backup', txId: '1.1' }), /^BACKUP coordinator sees p1:aborted p2:unavailable p3:working/)
})
