/** Named one-shot timers for a state machine's setTimer / cancelTimer effects. */
export class Timers {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor(private readonly fire: (name: string) => void) {}

  set(name: string, afterMs: number): void {
    this.cancel(name)
    const handle = setTimeout(() => {
      this.timers.delete(name)
      this.fire(name)
    }, afterMs)
    this.timers.set(name, handle)
  }

  cancel(name: string): void {
    const handle = this.timers.get(name)
    if (handle === undefined) return
    clearTimeout(handle)
    this.timers.delete(name)
  }

  clear(): void {
    for (const handle of this.timers.values()) clearTimeout(handle)
    this.timers.clear()
  }
}
