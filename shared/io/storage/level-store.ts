import { ClassicLevel } from 'classic-level'
import type { Store, StoreOp, StoreStats, WriteOptions } from '../../core/store.ts'
import type { FailpointName, Failpoints } from '../runtime/failpoints.ts'
import { marks } from '../runtime/marks.ts'
import { invariant } from '../../core/protocol/invariant.ts'

/** A point-in-time view of the store (LevelStore.snapshot). */
export interface StoreSnapshot {
  records: AsyncIterable<[string, unknown]>
  /** Releases the snapshot; harmless when the records were read to the end. */
  close: () => Promise<void>
}

interface Request {
  ops: StoreOp[]
  sync: boolean
  deferrable: boolean
  queuedAt: number
  /** What the request is, e.g. `decision 1.42`: named when a group-commit failpoint fires. */
  label: string
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The storage port (core/store.ts) over LevelDB, with group commit: persist requests that
 * arrive while a batch is being written wait and go out together in the next
 * single batch, synced if any of them asked for sync. A request resolves only
 * after the batch holding it is written (and synced when asked), and batches
 * are written strictly in order, so the log order is the request order.
 *
 * Deferrable requests linger: while the queue holds only such requests, the
 * batch waits up to `lingerMs` for a request that is not deferrable, and then
 * they all go out together. Durability is unchanged (each still resolves
 * only once its batch is synced); what changes is how many syncs they cost.
 */
export class LevelStore implements Store {
  readonly stats: StoreStats = { batches: 0, syncs: 0, requests: 0, ops: 0 }
  /** Told of every batch written, with how many write requests it carried (the metrics' histogram). */
  onBatch: ((requests: number) => void) | undefined
  private readonly db: ClassicLevel<string, unknown>
  private queue: Request[] = []
  /** Requests in the queue that are not deferrable: any of them starts a batch at once. */
  private urgent = 0
  private writing = false
  private lingerTimer: NodeJS.Timeout | undefined
  /** The linger timer fired: write what is queued (timers may fire a little early by the wall clock). */
  private lingerDue = false

  constructor(
    location: string,
    private readonly failpoints?: Failpoints,
    private readonly lingerMs = 0,
  ) {
    this.db = new ClassicLevel<string, unknown>(location, { valueEncoding: 'json' })
  }

  async open(): Promise<void> {
    await this.db.open()
  }

  get isOpen(): boolean {
    return this.db.status === 'open'
  }

  write(ops: StoreOp[], sync: boolean, options: WriteOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const deferrable = options.deferrable === true && this.lingerMs > 0
      this.queue.push({ ops, sync, label: options.label ?? '', deferrable, queuedAt: Date.now(), resolve, reject })
      this.stats.requests++
      if (!deferrable) this.urgent++
      this.schedule()
    })
  }

  private schedule(): void {
    if (this.writing || this.queue.length === 0) return
    if (!this.ready()) {
      // What is left of the oldest request's linger: requests queued during a batch write have waited already.
      const left = this.lingerMs - (Date.now() - this.queue[0]!.queuedAt)
      this.lingerTimer ??= setTimeout(() => {
        this.lingerTimer = undefined
        this.lingerDue = true
        this.schedule()
      }, left)
      return
    }
    this.writing = true
    // Gather everything the event loop's current turn produces (every frame it polled) before the
    // first batch goes out: no timer, so a lone request waits only for the rest of its own turn.
    setImmediate(() => void this.drain())
  }

  /** Whether the queue should be written now: something urgent in it, or its linger ran out. */
  private ready(): boolean {
    const oldest = this.queue[0]
    if (oldest === undefined) return false
    return this.urgent > 0 || this.lingerDue || Date.now() - oldest.queuedAt >= this.lingerMs
  }

  private async drain(): Promise<void> {
    while (this.ready()) {
      const group = this.queue
      this.queue = []
      this.urgent = 0
      // The batch takes every lingering request: their linger is over.
      clearTimeout(this.lingerTimer)
      this.lingerTimer = undefined
      this.lingerDue = false
      const sync = group.some((r) => r.sync)
      const ops = group.flatMap((r) => r.ops)
      const grouped = sync && group.length >= 2
      try {
        if (grouped) this.failpoint('store.beforeGroupSync', group)
        marks.mark(sync ? 'write sync' : 'write nosync')
        await this.db.batch(ops.map(toLevelOp), { sync })
        marks.mark('write done')
        if (grouped) this.failpoint('store.afterGroupSync', group)
        this.stats.batches++
        this.stats.ops += ops.length
        if (sync) this.stats.syncs++
        this.onBatch?.(group.length)
        for (const r of group) r.resolve()
      } catch (err) {
        for (const r of group) r.reject(err)
      }
    }
    this.writing = false
    // Only deferrable requests are left, if any: let them linger.
    this.schedule()
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

  /**
   * Every entry whose key starts with `prefix`, in key order. No upper bound
   * is given to LevelDB: it orders keys by their UTF-8 bytes, in which a
   * character above U+FFFF sorts after `prefix + "\uffff"` (a bound that
   * missed such keys); the keys with the prefix are contiguous in that order,
   * so the scan stops at the first key without it.
   */
  async scan(prefix: string, limit = Infinity): Promise<[string, unknown][]> {
    const out: [string, unknown][] = []
    if (limit <= 0) return out
    for await (const [key, value] of this.db.iterator({ gte: prefix })) {
      if (!key.startsWith(prefix)) break
      out.push([key, value])
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Point reads through a one-key iterator each, not LevelDB's Get: Get
   * charges a "seek" to the first table it consults whenever it has to look
   * in a second, and compacts a table once it has absorbed about one seek
   * per 16 KB of its size. With a bloom filter on every table that heuristic
   * only costs: random reads of a large replica went through the young
   * tables (which span every key) on their way to the old ones, and kept
   * them compacting into the bottom level, about a third of each
   * participant's CPU at c=128 on 5 million keys (README, "A replica of 5
   * million keys"). An iterator only samples what it reads, once per
   * megabyte. Each iterator is taken when this is called, as Get's implicit
   * snapshot was, so a read sees every write completed before it.
   */
  async getMany(keys: string[]): Promise<unknown[]> {
    return Promise.all(keys.map((key) => this.readOne(key)))
  }

  /**
   * LevelDB's estimate of the bytes its tables hold under `prefix` (compressed,
   * and without what is still in the memtable): cheap, for telling a replica
   * that cannot fit in memory without reading it.
   */
  async approximateBytes(prefix: string): Promise<number> {
    invariant(prefix.length > 0 && prefix.charCodeAt(prefix.length - 1) < 0x7f, () => `no bound follows the prefix ${JSON.stringify(prefix)}`)
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
    return this.db.approximateSize(prefix, end)
  }

  /** How many tables LevelDB holds at each of its 7 levels (its `leveldb.num-files-at-levelN` properties). */
  tablesPerLevel(): number[] {
    return Array.from({ length: 7 }, (_, level) => Number(this.db.getProperty(`leveldb.num-files-at-level${level}`)))
  }

  private async readOne(key: string): Promise<unknown> {
    const [entry] = await this.db.iterator({ gte: key, lte: key, limit: 1 }).all()
    return entry?.[1]
  }

  async scanFrom(prefix: string, start: { key: string; inclusive: boolean }, limit: number): Promise<[string, unknown][]> {
    const out: [string, unknown][] = []
    if (limit <= 0) return out
    for await (const [key, value] of this.db.iterator(start.inclusive ? { gte: start.key } : { gt: start.key })) {
      if (!key.startsWith(prefix)) break
      out.push([key, value])
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Every record whose key starts with one of `prefixes`, in key order, from
   * a snapshot taken by this call (LevelDB's iterator reads the state at its
   * creation, which is synchronous): writes made afterwards are not seen.
   * Read to the end, it closes itself; a reader that stops early (or never
   * starts) closes it.
   */
  snapshot(prefixes: readonly string[]): StoreSnapshot {
    // Made here, not in the generator (whose body runs only at the first next()).
    const iterator = this.db.iterator()
    return { records: underPrefixes(iterator, prefixes), close: () => iterator.close() }
  }

  /** Writes what is still queued (lingering requests too), then closes. */
  async close(): Promise<void> {
    // An empty request that is not deferrable takes every lingering one out with it.
    if (this.queue.length > 0) await this.write([], false)
    await this.db.close()
  }
}

async function* underPrefixes(iterator: AsyncIterable<[string, unknown]> & { close(): Promise<void> }, prefixes: readonly string[]): AsyncGenerator<[string, unknown]> {
  try {
    for await (const [key, value] of iterator) {
      if (prefixes.some((p) => key.startsWith(p))) yield [key, value]
    }
  } finally {
    await iterator.close()
  }
}

function toLevelOp(op: StoreOp): { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string } {
  return op.type === 'put' ? { type: 'put', key: op.key, value: op.value } : { type: 'del', key: op.key }
}
