import { compareKeys } from '../core/participant/listing.ts'
import type { Store, StoreOp, StoreStats, WriteOptions } from '../core/store.ts'

/**
 * The storage port in memory, for the simulator and for tests. It keeps what
 * a disk with a page cache keeps: every written batch is visible at once and
 * survives a process crash, but only what a sync covered survives a power
 * loss (`powerLoss()` drops the rest, as a machine crash does: a sync makes
 * durable every batch written before it, not only its own).
 */
export class MemoryStore implements Store {
  readonly stats: StoreStats = { batches: 0, syncs: 0, requests: 0, ops: 0 }
  private readonly visible = new Map<string, unknown>()
  private durable = new Map<string, unknown>()
  /** Batches written since the last sync: lost by a power loss. */
  private unsynced: StoreOp[][] = []
  private open = true

  get isOpen(): boolean {
    return this.open
  }

  async write(ops: StoreOp[], sync: boolean, _options: WriteOptions = {}): Promise<void> {
    if (!this.open) throw new Error('store is closed')
    this.stats.requests++
    this.stats.batches++
    this.stats.ops += ops.length
    // Stored as LevelDB's JSON encoding stores it: a later change to the caller's objects cannot reach the disk.
    const encoded = ops.map((op) => (op.type === 'put' ? { ...op, value: JSON.parse(JSON.stringify(op.value)) as unknown } : op))
    applyOps(this.visible, encoded)
    this.unsynced.push(encoded)
    if (sync) {
      this.stats.syncs++
      for (const batch of this.unsynced) applyOps(this.durable, batch)
      this.unsynced = []
    }
  }

  async get(key: string): Promise<unknown> {
    return this.visible.get(key)
  }

  async scan(prefix: string, limit = Infinity): Promise<[string, unknown][]> {
    // Map keys are unique: no two compare equal.
    return [...this.visible].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, limit)
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return keys.map((key) => this.visible.get(key))
  }

  async scanFrom(prefix: string, start: { key: string; inclusive: boolean }, limit: number): Promise<[string, unknown][]> {
    const after = (key: string): boolean => {
      const order = compareKeys(key, start.key)
      return order > 0 || (order === 0 && start.inclusive)
    }
    return [...this.visible].filter(([k]) => k.startsWith(prefix) && after(k)).sort(([a], [b]) => compareKeys(a, b)).slice(0, limit)
  }

  async close(): Promise<void> {
    this.open = false
  }

  /** Reopens after a process crash: everything written is still there. */
  reopen(): void {
    this.open = true
  }

  /** A power loss: what no sync covered is gone, and the store is reopened on what the disk holds. */
  powerLoss(): void {
    this.visible.clear()
    for (const [k, v] of this.durable) this.visible.set(k, v)
    this.unsynced = []
    this.open = true
  }
}

/** One batch applied to a key-value map, in order: what every backend does with a batch. */
export function applyOps(map: Map<string, unknown>, ops: readonly StoreOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') map.set(op.key, op.value)
    else map.delete(op.key)
  }
}
