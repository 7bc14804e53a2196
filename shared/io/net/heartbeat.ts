import type { WebSocket } from 'ws'

/**
 * Pings a peer every `intervalMs` and calls `onMissed` once when a whole
 * interval passed without a pong or any other frame from it.
 *
 * The verdict waits for one turn of the event loop (`setImmediate`). Node
 * runs due timers before it reads sockets, so after this process stalled
 * (a GC pause, a busy 2-core machine) the interval fires before the pong
 * that came in meanwhile is read. Judging at once would drop a healthy link:
 * under CI load that made a coordinator refuse a transaction with
 * `participant_unavailable` right after `/readyz` said ready. Judging after
 * the poll phase reads whatever the kernel already holds first.
 */
export class Heartbeat {
  private heard = true
  private readonly timer: NodeJS.Timeout
  private verdict: NodeJS.Immediate | undefined

  constructor(private readonly ws: WebSocket, intervalMs: number, private readonly onMissed: () => void) {
    ws.on('pong', () => { this.heard = true })
    this.timer = setInterval(() => { this.beat() }, intervalMs)
  }

  /** Any frame from the peer proves it alive: a pong queued behind a backlog of frames may come after the next beat. */
  heardFrom(): void {
    this.heard = true
  }

  stop(): void {
    clearInterval(this.timer)
    if (this.verdict) clearImmediate(this.verdict)
  }

  private beat(): void {
    if (this.heard) {
      this.heard = false
      this.ws.ping()
      return
    }
    // A pong read in this turn's poll phase (heard again) keeps the link: only silence is judged.
    this.verdict ??= setImmediate(() => {
      this.verdict = undefined
      if (!this.heard) {
        this.stop()
        this.onMissed()
      }
    })
  }
}
