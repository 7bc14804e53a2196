import { CodedError } from '../../shared/core/api-errors.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { ChaosEvent, ClusterNode, ClusterTarget, Fault, FaultKind, FaultSource } from './faults.ts'

export interface FaultRequest {
  kind: FaultKind
  node: string
  /** Heal by itself after this long; absent: until healed through the API. */
  durationMs?: number
  /** A kill for good (no duration): `healAll` leaves it down unless told otherwise. */
  permanent?: boolean
  source: FaultSource
}

export interface HealAllResult {
  healed: Fault[]
  failed: { fault: Fault; error: string }[]
  /** Kills for good, left down. */
  kept: Fault[]
}

/** The fault log keeps the newest lines only, so that a sidecar running for days stays small. */
const maxEvents = 10_000

interface ActiveFault {
  fault: Fault
  timer?: NodeJS.Timeout
}

/** How each kind of fault is made and undone on a target. */
const actions: Record<FaultKind, { apply: (t: ClusterTarget, node: string) => Promise<void>; undo: (t: ClusterTarget, node: string) => Promise<void> }> = {
  kill: { apply: async (t, n) => t.kill(n), undo: async (t, n) => t.restart(n) },
  pause: { apply: async (t, n) => t.pause(n), undo: async (t, n) => t.unpause(n) },
  partition: { apply: async (t, n) => t.disconnect(n), undo: async (t, n) => t.reconnect(n) },
}

/**
 * Injects faults into a cluster and heals them: at most one fault per node at
 * a time (so every fault has one clear undo), optional self-healing after a
 * duration, and a log of every fault and heal with its time, which a chaos
 * run's report includes.
 */
export class ChaosEngine {
  private readonly active = new Map<string, ActiveFault>()
  private readonly log: ChaosEvent[] = []
  private nextId = 1

  constructor(
    readonly target: ClusterTarget,
    private readonly logger: Logger,
  ) {}

  async nodes(): Promise<ClusterNode[]> {
    return this.target.nodes()
  }

  faults(): Fault[] {
    return [...this.active.values()].map((a) => a.fault)
  }

  events(): ChaosEvent[] {
    return [...this.log]
  }

  busyNodes(): Set<string> {
    return new Set(this.faults().map((f) => f.node))
  }

  async inject(request: FaultRequest): Promise<Fault> {
    const nodes = await this.target.nodes()
    if (!nodes.some((n) => n.name === request.node)) throw new CodedError('unknown_node', `no node "${request.node}" (nodes: ${nodes.map((n) => n.name).join(', ')})`)
    if (request.permanent === true && (request.kind !== 'kill' || request.durationMs !== undefined)) throw new CodedError('bad_request', 'only a kill can be permanent, and it has no duration')
    const busy = this.faults().find((f) => f.node === request.node)
    if (busy) throw new CodedError('node_busy', `${request.node} already has fault ${busy.id} (${busy.kind})`)
    const startedAt = new Date()
    const fault: Fault = { id: `f${this.nextId++}`, kind: request.kind, node: request.node, source: request.source, startedAt: startedAt.toISOString() }
    if (request.durationMs !== undefined) fault.healAt = new Date(startedAt.getTime() + request.durationMs).toISOString()
    if (request.permanent === true) fault.permanent = true
    // Reserve the node before acting, so that a concurrent request sees it busy.
    const entry: ActiveFault = { fault }
    this.active.set(fault.id, entry)
    try {
      await actions[fault.kind].apply(this.target, fault.node)
    } catch (err) {
      this.active.delete(fault.id)
      this.record('fault', fault, err)
      throw new CodedError('fault_failed', `${fault.kind} ${fault.node}: ${messageOf(err)}`)
    }
    this.record('fault', fault)
    if (request.durationMs !== undefined) {
      entry.timer = setTimeout(() => {
        this.heal(fault.id).catch(() => undefined) // logged by heal; the fault stays listed for a manual heal
      }, request.durationMs)
    }
    return fault
  }

  async heal(id: string): Promise<Fault> {
    const entry = this.active.get(id)
    if (!entry) throw new CodedError('unknown_fault', `no active fault "${id}"`)
    clearTimeout(entry.timer)
    const { fault } = entry
    try {
      await actions[fault.kind].undo(this.target, fault.node)
    } catch (err) {
      this.record('heal', fault, err)
      throw new CodedError('fault_failed', `heal ${fault.kind} ${fault.node}: ${messageOf(err)}`)
    }
    this.active.delete(id)
    this.record('heal', fault)
    return fault
  }

  /**
   * Heals every active fault but the kills for good (unless `permanentToo`);
   * a heal that fails is logged and the others go on.
   */
  async healAll(permanentToo = false): Promise<HealAllResult> {
    const healed: Fault[] = []
    const failed: { fault: Fault; error: string }[] = []
    const kept: Fault[] = []
    for (const fault of this.faults()) {
      if (fault.permanent === true && !permanentToo) {
        kept.push(fault)
        continue
      }
      try {
        healed.push(await this.heal(fault.id))
      } catch (err) {
        failed.push({ fault, error: messageOf(err) })
      }
    }
    return { healed, failed, kept }
  }

  /** Stops self-heal timers (the faults themselves are left as they are). */
  close(): void {
    for (const entry of this.active.values()) clearTimeout(entry.timer)
  }

  private record(event: ChaosEvent['event'], fault: Fault, err?: unknown): void {
    const line: ChaosEvent = { at: new Date().toISOString(), event, id: fault.id, kind: fault.kind, node: fault.node, source: fault.source }
    if (err !== undefined) line.error = messageOf(err)
    this.log.push(line)
    if (this.log.length > maxEvents) this.log.splice(0, this.log.length - maxEvents)
    if (err === undefined) this.logger.warn({ chaos: line }, `chaos ${event} ${fault.kind} ${fault.node}`)
    else this.logger.error({ chaos: line }, `chaos ${event} ${fault.kind} ${fault.node} failed`)
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
