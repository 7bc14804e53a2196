import { ClassicLevel } from 'classic-level'
import type { StoreOp } from '../protocol/types.ts'
import type { FailpointName, Failpoints } from '../runtime/failpoints.ts'

export interface StoreStats {
  /** LevelDB batches written. */
  batches: number
  /** Batches written with sync: true (one fsync each). */
  syncs: number
  /** Persist requests served; requests / batches is the group-commit factor. */
  requests: number
  ops: number
}

interface Request {
  ops: StoreOp[]
  sync: boolean
  /** What the request is, e.g. `decision 1.42`: named when a group-commit failpoint fires. */
  label: string
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The storage port over LevelDB, with group commit: persist requests that
 * arrive while a batch is being written wait and go out together in the next
 * single batch, synced if any of them asked for sync. A request resolves only
 * after the batch holding it is written (and synced when asked), and batches
 * are written strictly in order, so the log order is the request order.
 */
export class LevelStore {
  readonly stats: StoreStats = { batches: 0, syncs: 0, requests: 0, ops: 0 }
  private readonly db: ClassicLevel<string, unknown>
  private queue: Request[] = []
  private writing = false

  constructor(
    location: string,
    private readonly failpoints?: Failpoints,
  ) {
    this.db = new ClassicLevel<string, unknown>(location, { valueEncoding: 'json' })
  }

  async open(): Promise<void> {
    await this.db.open()
  }

  get isOpen(): boolean {
    return this.db.status === 'open'
  }

  write(ops: StoreOp[], sync: boolean, label = ''): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, sync, label, resolve, reject })
      this.stats.requests++
      if (!this.writing) {
        this.writing = true
        // Gather everything produced in this tick before the first batch goes out.
        queueMicrotask(() => void this.drain())
      }
    })
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue
      this.queue = []
      const sync = group.some((r) => r.sync)
      const ops = group.flatMap((r) => r.ops)
      const grouped = sync && group.length >= 2
      try {
        if (grouped) this.failpoint('store.beforeGroupSync', group)
        await this.db.batch(ops.map(toLevelOp), { sync })
        if (grouped) this.failpoint('store.afterGroupSync', group)
        this.stats.batches++
        this.stats.ops += ops.length
        if (sync) this.stats.syncs++
        for (const r of group) r.resolve()
      } catch (err) {
        for (const r of group) r.reject(err)
      }
    }
    this.writing = false
  }

  /** Crash tests of group commit: the line before the crash names every request of the batch. */
  private failpoint(name: FailpointName, group: Request[]): void {
    if (!this.failpoints?.fires(name)) return
    process.stderr.write(`${JSON.stringify({ failpoint: name, group: group.map((r) => r.label) })}\n`)
    this.failpoints.crash(name)
  }

  async get(key: string): Promise<unknown> {
    return this.db.get(key)
  }

  /** Every entry whose key starts with `prefix`, in key order. */
  async scan(prefix: string, limit = Infinity): Promise<[string, unknown][]> {
    const out: [string, unknown][] = []
    for await (const [key, value] of this.db.iterator({ gte: prefix, lt: `${prefix}\uffff`, limit: Number.isFinite(limit) ? limit : -1 })) {
      out.push([key, value])
    }
    return out
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}

function toLevelOp(op: StoreOp): { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string } {
  return op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key }
}
