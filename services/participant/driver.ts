import { ParticipantMachine } from '../../shared/core/participant/machine.ts'
import type { ParticipantEffect, ParticipantEvent } from '../../shared/core/participant/types.ts'
import type { ToCoordinator, ToParticipant } from '../../shared/core/protocol/messages.ts'
import type { PersistEffect } from '../../shared/core/protocol/effects.ts'
import type { ParticipantTimer } from '../../shared/core/protocol/timers.ts'
import type { DistributiveOmit } from '../../shared/core/protocol/types.ts'
import type { Store } from '../../shared/core/store.ts'
import type { FailpointName, Failpoints } from '../../shared/io/runtime/failpoints.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { loadEntries, scanEntries } from './replica-reader.ts'
import { CorruptRecordError } from '../../shared/core/protocol/record-reader.ts'
import { EffectRunner, type PersistCrashPoints } from '../../shared/io/runtime/effect-runner.ts'
import { monotonicUs, TraceRing } from '../../shared/io/trace/trace-ring.ts'

/** Wires the pure participant machine to LevelDB, timers and the coordinator's socket. */
export class ParticipantDriver {
  readonly machine: ParticipantMachine
  private stopped = false
  /** To a coordinator, over its link (false when it is down: dropped). */
  sender: (to: string, msg: ToCoordinator) => boolean = () => false
  /** Paxos Commit: to another participant, over the link this one dialled (false when it is down: dropped). */
  peerSender: (to: string, msg: ToParticipant) => boolean = () => false
  /** Shown every effect before it is performed (the metrics count votes and reads from them). */
  observe: ((effect: ParticipantEffect) => void) | undefined
  private readonly runner: EffectRunner<ParticipantTimer>

  constructor(
    machine: ParticipantMachine,
    private readonly store: Store,
    private readonly failpoints: Failpoints,
    private readonly logger: Logger,
    /** What this node saw of each recent transaction (off: capacity 0). */
    readonly trace = new TraceRing(0),
  ) {
    this.machine = machine
    this.runner = new EffectRunner({
      store,
      failpoints,
      logger,
      trace,
      crashPoints: participantCrashPoints,
      onTimer: (timer) => { this.dispatch({ type: 'timer', timer }) },
      onPersisted: (token) => { this.dispatch({ type: 'persisted', token }) },
    })
  }

  /** `from`: the coordinator whose link carried it; absent for a peer's message (which names its sender). */
  onMessage(msg: ToParticipant, from?: string): void {
    this.trace.message('recv', msg, from)
    this.dispatch(from === undefined ? { type: 'message', msg } : { type: 'message', msg, from })
  }

  stop(): void {
    this.stopped = true
    this.runner.stop()
  }

  dispatch(event: DistributiveOmit<ParticipantEvent, 'now'>): void {
    if (this.stopped) return
    this.perform(this.machine.step({ ...event, now: Date.now() }))
  }

  private perform(effects: ParticipantEffect[]): void {
    const sendPoint = sendCrashPoint(effects, this.failpoints)
    for (const effect of effects) {
      this.observe?.(effect)
      switch (effect.type) {
        case 'send': {
          // Stamped before the send (see TraceRing.message), traced as sent or dropped after it.
          const atUs = this.trace.enabled ? monotonicUs() : undefined
          const sent = this.sender(effect.to, effect.msg)
          this.trace.message(sent ? 'send' : 'drop', effect.msg, effect.to, atUs)
          if (!sent) this.logger.debug({ txId: 'txId' in effect.msg ? effect.msg.txId : undefined, type: effect.msg.type, coordinator: effect.to }, 'coordinator not connected; message dropped')
          break
        }
        case 'sendPeer': {
          // Lost like any message on a link that is down: the protocol re-sends or a recovery ballot follows.
          const atUs = this.trace.enabled ? monotonicUs() : undefined
          const sent = this.peerSender(effect.to, effect.msg)
          this.trace.message(sent ? 'send' : 'drop', effect.msg, effect.to, atUs)
          if (!sent) this.logger.debug({ txId: 'txId' in effect.msg ? effect.msg.txId : undefined, type: effect.msg.type, peer: effect.to }, 'peer not connected; message dropped')
          break
        }
        case 'load':
          this.read(effect.id, loadEntries(this.store, effect.keys), (entries) => ({ type: 'loaded', id: effect.id, entries }))
          break
        case 'scan':
          this.read(effect.id, scanEntries(this.store, effect.prefix, effect.start, effect.limit), (page) => ({ type: 'scanned', id: effect.id, ...page }))
          break
        default:
          this.runner.perform(effect)
          break
      }
    }
    if (sendPoint !== undefined) this.crashAfterSending(sendPoint)
  }

  /**
   * A replica cache's read of the store, answered by an event. A read that
   * fails on an open store (a corrupt entry, a disk error) is fatal, as a
   * failed write is: the machine's request cannot go on without it.
   */
  private read<T>(id: number, reading: Promise<T>, event: (result: T) => DistributiveOmit<ParticipantEvent, 'now'>): void {
    reading.then(
      (result) => { this.dispatch(event(result)) },
      (err: unknown) => {
        if (this.stopped || !this.store.isOpen) return
        if (err instanceof CorruptRecordError) {
          // As at start (run-main.ts): one line naming the key, and the node stops rather than trust it.
          this.logger.fatal({ code: 'corrupt_record', read: id }, err.message)
          process.stderr.write(`${err.message}\n`)
          process.exit(1)
        }
        this.logger.fatal({ err, read: id }, 'replica read failed; exiting')
        process.exit(70)
      },
    )
  }

  /**
   * Dies once what this step sent has left: the node stops taking events at
   * once (as dead as it will be), its links flush on their own turn, and the
   * process is killed a moment later.
   */
  private crashAfterSending(point: FailpointName): void {
    this.stop()
    setTimeout(() => { this.failpoints.crash(point) }, 200)
  }
}

/** The Paxos Commit crash point a step's sends reach, if one is armed and fires now (one hit per step, not per peer). */
function sendCrashPoint(effects: ParticipantEffect[], failpoints: Failpoints): FailpointName | undefined {
  if (!failpoints.active) return undefined
  const sent = effects.flatMap((e) => (e.type === 'sendPeer' ? [e.msg] : []))
  if (sent.some((m) => m.type === 'phase2a' && m.ballot === 0) && failpoints.fires('participant.afterOwnPhase2aSent')) return 'participant.afterOwnPhase2aSent'
  if (sent.some((m) => m.type === 'phase1a') && failpoints.fires('leader.afterPhase1aSent')) return 'leader.afterPhase1aSent'
  if (sent.some((m) => m.type === 'phase2a' && m.ballot > 0) && failpoints.fires('leader.afterPhase2aSent')) return 'leader.afterPhase2aSent'
  return undefined
}

/** Crash points around the participant's writes: the PREPARED record and the commit batch. */
function participantCrashPoints(effect: PersistEffect): PersistCrashPoints {
  if (effect.kind === 'prepare') return { before: 'participant.beforePrepareLogged', after: 'participant.afterPrepareLoggedBeforeVote' }
  if (effect.kind === 'apply') return { before: 'participant.afterCommitReceivedBeforeApply', after: 'participant.afterApplyBeforeAck' }
  if (effect.kind === 'accept') return { before: 'acceptor.beforeAcceptLogged', after: 'acceptor.afterAcceptLoggedBefore2b' }
  return {}
}
