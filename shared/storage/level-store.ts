import { ClassicLevel } from 'classic-level'
import type { StoreOp } from '../protocol/types.ts'

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

  constructor(location: string) {
    this.db = new ClassicLevel<string, unknown>(location, { valueEncoding: 'json' })
  }

  async open(): Promise<void> {
    await this.db.open()
  }

  get isOpen(): boolean {
    return this.db.status === 'open'
  }

  write(ops: StoreOp[], sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, sync, resolve, reject })
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
      try {
        await this.db.batch(ops.map(toLevelOp), { sync })
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
