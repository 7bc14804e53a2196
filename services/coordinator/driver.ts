import { CoordinatorMachine } from '../../shared/core/coordinator/machine.ts'
import type { CoordinatorEffect, CoordinatorEvent, KeyReplyBody, ListReplyBody, LookupReplyBody, ReadReplyBody, ReplyBody } from '../../shared/core/coordinator/types.ts'
import type { ToCoordinator, ToParticipant } from '../../shared/core/protocol/messages.ts'
import type { DistributiveOmit, Write } from '../../shared/core/protocol/types.ts'
import type { Store } from '../../shared/core/store.ts'
import type { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { EffectRunner, type PersistCrashPoints } from '../../shared/io/runtime/effect-runner.ts'
import type { PersistEffect } from '../../shared/core/protocol/effects.ts'
import type { CoordinatorTimer } from '../../shared/core/protocol/timers.ts'
import type { ParticipantLink } from '../../shared/io/net/participant-link.ts'
import { keyedObject } from '../../shared/core/protocol/keyed-object.ts'
import { monotonicUs, TraceRing } from '../../shared/io/trace/trace-ring.ts'


/**
 * Wires the pure coordinator machine to the world: HTTP requests and reads
 * become events, effects become WebSocket sends, LevelDB batches, timers and
 * replies. Protocol decisions (read routing and timeouts included) are never
 * made here.
 */
export class CoordinatorDriver {
  readonly machine: CoordinatorMachine
  private readonly replies = new Map<number, (body: ReplyBody) => void>()
  private readonly readReplies = new Map<number, (body: ReadReplyBody) => void>()
  private readonly lookupReplies = new Map<number, (body: LookupReplyBody) => void>()
  private nextReqId = 1
  private links = new Map<string, ParticipantLink>()
  private stopped = false

  private readonly runner: EffectRunner<CoordinatorTimer>

  constructor(
    machine: CoordinatorMachine,
    store: Store,
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
      crashPoints: coordinatorCrashPoints,
      onTimer: (timer) => { this.dispatch({ type: 'timer', timer }) },
      onPersisted: (token) => { this.dispatch({ type: 'persisted', token }) },
    })
  }

  attach(links: ParticipantLink[]): void {
    this.links = new Map(links.map((l) => [l.name, l]))
  }

  /** Per participant link: connected, and what it refused (for /v1/status). */
  linkStatus(): Record<string, { connected: boolean; refusedFrames: number; refusedMessages: number; helloTimeouts: number }> {
    const status = keyedObject<{ connected: boolean; refusedFrames: number; refusedMessages: number; helloTimeouts: number }>()
    for (const link of this.links.values()) {
      status[link.name] = { connected: link.isConnected, refusedFrames: link.refusedFrames, refusedMessages: link.refusedMessages, helloTimeouts: link.helloTimeouts }
    }
    return status
  }

  get connectedCount(): number {
    return [...this.links.values()].filter((l) => l.isConnected).length
  }

  /** Runs one transaction through the machine; resolves with its outcome (or a refusal). */
  submit(writes: Write[], clientId?: string, timeoutMs?: number): Promise<ReplyBody> {
    const reqId = this.nextReqId++
    return new Promise((resolve) => {
      this.replies.set(reqId, resolve)
      const event: DistributiveOmit<CoordinatorEvent, 'now'> = { type: 'request', reqId, writes }
      if (clientId !== undefined) event.clientId = clientId
      if (timeoutMs !== undefined) event.timeoutMs = timeoutMs
      this.dispatch(event)
    })
  }

  /** Reads a key through the machine, which routes it to a participant and bounds the wait. */
  read(key: string): Promise<KeyReplyBody> {
    const reqId = this.nextReqId++
    return new Promise((resolve) => {
      // The machine answers a read with an entry, never a page (it checks the answer's kind).
      this.readReplies.set(reqId, (body) => { resolve(body as KeyReplyBody) })
      this.dispatch({ type: 'read', reqId, key })
    })
  }

  /** A page of committed keys, routed and bounded as a read. */
  list(prefix: string, after: string, limit: number): Promise<ListReplyBody> {
    const reqId = this.nextReqId++
    return new Promise((resolve) => {
      this.readReplies.set(reqId, (body) => { resolve(body as ListReplyBody) })
      this.dispatch({ type: 'list', reqId, prefix, after, limit })
    })
  }

  /** Looks up another coordinator's transaction at the participants, through the machine. */
  lookup(txId: string): Promise<LookupReplyBody> {
    const reqId = this.nextReqId++
    return new Promise((resolve) => {
      this.lookupReplies.set(reqId, resolve)
      this.dispatch({ type: 'lookup', reqId, txId })
    })
  }

  onConnected(participant: string): void {
    this.dispatch({ type: 'connected', participant })
  }

  onDisconnected(participant: string): void {
    this.dispatch({ type: 'disconnected', participant })
  }

  onMessage(participant: string, msg: ToCoordinator): void {
    this.trace.message('recv', msg, participant)
    this.dispatch({ type: 'message', from: participant, msg })
  }

  stop(): void {
    this.stopped = true
    this.runner.stop()
  }

  dispatch(event: DistributiveOmit<CoordinatorEvent, 'now'>): void {
    if (this.stopped) return
    const effects = this.machine.step({ ...event, now: Date.now() })
    this.perform(effects)
  }

  /** To a participant's link; traced as sent, or as dropped when the link is down (stamped before: see TraceRing.message). */
  private send(to: string, msg: ToParticipant): void {
    const atUs = this.trace.enabled ? monotonicUs() : undefined
    const sent = this.links.get(to)?.send(msg) === true
    this.trace.message(sent ? 'send' : 'drop', msg, to, atUs)
    if (!sent) this.logger.debug({ txId: 'txId' in msg ? msg.txId : undefined, participant: to }, 'not connected; message dropped')
  }

  private perform(effects: CoordinatorEffect[]): void {
    let replied = false
    let firstCommitTo: string | undefined
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          if (effect.msg.type === 'commit' && this.commitFailpoint(replied, firstCommitTo)) return
          if (effect.msg.type === 'commit') firstCommitTo ??= effect.to
          this.send(effect.to, effect.msg)
          break
        case 'reply':
          replied = true
          this.reply(effect.reqId, effect.body)
          break
        case 'readReply': {
          const resolve = this.readReplies.get(effect.reqId)
          this.readReplies.delete(effect.reqId)
          resolve?.(effect.body)
          break
        }
        case 'lookupReply': {
          const resolve = this.lookupReplies.get(effect.reqId)
          this.lookupReplies.delete(effect.reqId)
          resolve?.(effect.body)
          break
        }
        default:
          this.runner.perform(effect)
          break
      }
    }
  }

  /**
   * Failpoints in the COMMIT fan-out. afterReplyBeforeCommitSent lets the
   * reply reach the client, sends nothing more and then dies; midCommitFanout
   * makes sure the first COMMIT really left before dying.
   */
  private commitFailpoint(replied: boolean, firstCommitTo: string | undefined): boolean {
    if (replied && firstCommitTo === undefined && this.failpoints.fires('coordinator.afterReplyBeforeCommitSent')) {
      this.stop()
      setTimeout(() => { this.failpoints.crash('coordinator.afterReplyBeforeCommitSent') }, 200)
      return true
    }
    if (firstCommitTo !== undefined && this.failpoints.fires('coordinator.midCommitFanout')) {
      this.links.get(firstCommitTo)?.flush()
      this.failpoints.crash('coordinator.midCommitFanout')
      return true
    }
    return false
  }

  private reply(reqId: number, body: ReplyBody): void {
    const resolve = this.replies.get(reqId)
    this.replies.delete(reqId)
    resolve?.(body)
  }
}

/** Crash points around the coordinator's log writes: the commit decision and END. */
function coordinatorCrashPoints(effect: PersistEffect): PersistCrashPoints {
  if (effect.kind === 'commit-decision') return { before: 'coordinator.beforeDecisionLogged', after: 'coordinator.afterDecisionLogged' }
  if (effect.kind === 'end') return { before: 'coordinator.beforeEndLogged' }
  return {}
}
