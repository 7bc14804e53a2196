import { Prng } from '../../shared/core/prng.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { ChaosEngine } from './engine.ts'
import { planFault, type KillForGood, type ScheduleOptions } from './schedule.ts'

export interface ScheduleStatus {
  running: boolean
  options?: ScheduleOptions
  planned: number
  skipped: number
}

/**
 * Runs a seeded random schedule against the engine: wait, plan, inject, until
 * stopped. The choices (kinds, nodes, durations, waits) are a function of the
 * seed; when they land relative to the workload depends on real time.
 */
export class RandomSchedule {
  private timer: NodeJS.Timeout | undefined
  private killTimer: NodeJS.Timeout | undefined
  private prng: Prng | undefined
  private status: ScheduleStatus = { running: false, planned: 0, skipped: 0 }

  constructor(
    private readonly engine: ChaosEngine,
    private readonly logger: Logger,
  ) {}

  start(options: ScheduleOptions): ScheduleStatus {
    this.stop()
    this.prng = new Prng(options.seed)
    this.status = { running: true, options, planned: 0, skipped: 0 }
    this.logger.info({ schedule: options }, 'chaos schedule started')
    this.arm()
    if (options.killForGood) this.armKillForGood(options.killForGood)
    return this.describe()
  }

  stop(): ScheduleStatus {
    clearTimeout(this.timer)
    clearTimeout(this.killTimer)
    this.timer = undefined
    this.killTimer = undefined
    if (this.status.running) this.logger.info({ planned: this.status.planned, skipped: this.status.skipped }, 'chaos schedule stopped')
    this.status.running = false
    return this.describe()
  }

  describe(): ScheduleStatus {
    return { ...this.status }
  }

  private arm(): void {
    const { prng, status } = this
    if (!prng || !status.options || !status.running) return
    const options = status.options
    this.timer = setTimeout(() => {
      void this.tick(prng, options).finally(() => { this.arm() })
    }, prng.int(...options.intervalMs))
  }

  private armKillForGood({ node, afterMs }: KillForGood): void {
    this.killTimer = setTimeout(() => {
      this.killTimer = undefined
      this.engine.inject({ kind: 'kill', node, permanent: true, source: 'schedule' }).catch((err: unknown) => {
        this.logger.error({ err, node }, 'chaos schedule could not kill a node for good')
      })
    }, afterMs)
  }

  private async tick(prng: Prng, options: ScheduleOptions): Promise<void> {
    try {
      // The node to be killed for good is left to that kill.
      const nodes = (await this.engine.nodes()).filter((n) => n.name !== options.killForGood?.node)
      const plan = planFault(prng, options, nodes, this.engine.busyNodes())
      if (!plan || !this.status.running) {
        this.status.skipped++
        return
      }
      this.status.planned++
      await this.engine.inject({ ...plan, source: 'schedule' })
    } catch (err) {
      this.logger.error({ err }, 'chaos schedule could not inject a fault')
    }
  }
}
