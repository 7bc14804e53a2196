import { timerKey, type Timer } from '../../core/protocol/timers.ts'

/** One-shot timers for a state machine's setTimer / cancelTimer effects, named by their key. */
export class Timers<T extends Timer> {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor(private readonly fire: (timer: T) => void) {}

  set(timer: T, afterMs: number): void {
    const key = timerKey(timer)
    this.cancel(timer)
    const handle = setTimeout(() => {
      this.timers.delete(key)
      this.fire(timer)
    }, afterMs)
    this.timers.set(key, handle)
  }

  cancel(timer: T): void {
    const key = timerKey(timer)
    const handle = this.timers.get(key)
    if (handle === undefined) return
    clearTimeout(handle)
    this.timers.delete(key)
  }

  clear(): void {
    for (const handle of this.timers.values()) clearTimeout(handle)
    this.timers.clear()
  }
}
