import { ParticipantMachine } from '../../shared/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent } from '../../shared/participant/types.ts'
import type { ToCoordinator, ToParticipant } from '../../shared/protocol/messages.ts'
import type { PersistEffect } from '../../shared/protocol/effects.ts'
import type { DistributiveOmit } from '../../shared/protocol/types.ts'
import type { LevelStore } from '../../shared/storage/level-store.ts'
import type { Failpoints } from '../../shared/runtime/failpoints.ts'
import { logEffect, type Logger } from '../../shared/runtime/logger.ts'
import { Timers } from '../../shared/runtime/timers.ts'


/** Wires the pure participant machine to LevelDB, timers and the coordinator's socket. */
export class ParticipantDriver {
  readonly machine: ParticipantMachine
  private readonly timers = new Timers((timer) => {
    this.dispatch({ type: 'timer', timer })
  })
  private stopped = false
  sender: (msg: ToCoordinator) => boolean = () => false

  constructor(
    machine: ParticipantMachine,
    private readonly store: LevelStore,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
  ) {
    this.machine = machine
  }

  onMessage(msg: ToParticipant): void {
    this.dispatch({ type: 'message', msg })
  }

  stop(): void {
    this.stopped = true
    this.timers.clear()
  }

  dispatch(event: DistributiveOmit<ParticipantEvent, 'now'>): void {
    if (this.stopped) return
    this.perform(this.machine.step({ ...event, now: Date.now() }))
  }

  private perform(effects: ParticipantEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          if (!this.sender(effect.msg)) this.logger.debug({ txId: 'txId' in effect.msg ? effect.msg.txId : undefined, type: effect.msg.type }, 'coordinator not connected; message dropped')
          break
        case 'persist':
          this.persist(effect)
          break
        case 'setTimer':
          this.timers.set(effect.timer, effect.afterMs)
          break
        case 'cancelTimer':
          this.timers.cancel(effect.timer)
          break
        case 'log':
          logEffect(this.logger, effect)
          break
      }
    }
  }

  private persist(effect: PersistEffect): void {
    if (effect.kind === 'prepare') this.failpoints.hit('participant.beforePrepareLogged')
    if (effect.kind === 'apply') this.failpoints.hit('participant.afterCommitReceivedBeforeApply')
    this.store.write(effect.ops, effect.sync).then(
      () => {
        if (effect.kind === 'prepare') this.failpoints.hit('participant.afterPrepareLoggedBeforeVote')
        if (effect.kind === 'apply') this.failpoints.hit('participant.afterApplyBeforeAck')
        this.dispatch({ type: 'persisted', token: effect.token })
      },
      (err: unknown) => {
        this.logger.fatal({ txId: effect.txId, err }, 'replica write failed; exiting')
        process.exit(70)
      },
    )
  }
}
