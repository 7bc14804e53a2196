import type { CommonEffect, PersistEffect } from '../../core/protocol/effects.ts'
import type { Timer } from '../../core/protocol/timers.ts'
import type { Store } from '../../core/store.ts'
import type { FailpointName, Failpoints } from './failpoints.ts'
import { logEffect, type Logger } from './logger.ts'
import { Timers } from './timers.ts'
import type { TraceRing } from '../trace/trace-ring.ts'

/** The crash points around one persist effect: before the write is issued, after it is durable. */
export interface PersistCrashPoints {
  before?: FailpointName
  after?: FailpointName
}

export interface EffectRunnerDeps<T extends Timer> {
  store: Store
  failpoints: Failpoints
  logger: Logger
  /** Which failpoints (if any) surround this persist: the only role-specific part. */
  crashPoints: (effect: PersistEffect) => PersistCrashPoints
  onTimer: (timer: T) => void
  onPersisted: (token: number) => void
  /** Told of every write of a transaction and of its timers (the console's diagrams). */
  trace?: TraceRing
}

/**
 * Performs the effects both roles share: persist (through the group-commit
 * store, echoing `persisted` once durable), timers and logs. Each driver
 * handles only its own effects (sends, replies).
 */
export class EffectRunner<T extends Timer> {
  private readonly timers: Timers<T>

  constructor(private readonly deps: EffectRunnerDeps<T>) {
    this.timers = new Timers((timer) => {
      deps.trace?.timer(timer)
      deps.onTimer(timer)
    })
  }

  perform(effect: CommonEffect<T>): void {
    switch (effect.type) {
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
        logEffect(this.deps.logger, effect)
        break
    }
  }

  stop(): void {
    this.timers.clear()
  }

  private persist(effect: PersistEffect): void {
    const { store, failpoints, logger } = this.deps
    const points = this.deps.crashPoints(effect)
    if (points.before) failpoints.hit(points.before)
    this.deps.trace?.persist(effect, false)
    const label = [effect.kind, effect.txId, effect.sync ? 'sync' : undefined].filter((x) => x !== undefined).join(' ')
    // Nobody waits on an apply but the coordinator's bookkeeping (the client was answered at the decision).
    store.write(effect.ops, effect.sync, { label, deferrable: effect.kind === 'apply' }).then(
      () => {
        if (points.after) failpoints.hit(points.after)
        this.deps.trace?.persist(effect, true)
        this.deps.onPersisted(effect.token)
      },
      (err: unknown) => {
        // A failed write leaves us unable to keep our promises: stop hard, recovery sorts it out.
        logger.fatal({ txId: effect.txId, kind: effect.kind, err }, 'storage write failed; exiting')
        process.exit(70)
      },
    )
  }
}
