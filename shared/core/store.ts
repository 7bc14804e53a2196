/** A storage operation; a persist effect carries a list of them, written as one atomic batch. */
export type StoreOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }

/**
 * The storage port: what a node needs of its disk, and all the machines'
 * effects assume (abstract-level's habit: a small public surface, each
 * backend behind it). LevelDB implements it for the services
 * (shared/io/storage/level-store.ts), a Map for the simulator
 * (shared/sim/memory-store.ts); one contract suite runs against both
 * (test/shared/store-contract.ts).
 */
export interface Store {
  readonly isOpen: boolean
  readonly stats: StoreStats
  /**
   * Writes `ops` as one atomic batch; resolves once it is written, and with
   * `sync` once it is on stable storage (fsync). Batches are applied in the
   * order they were asked for.
   */
  write(ops: StoreOp[], sync: boolean, options?: WriteOptions): Promise<void>
  /** The value at `key`, or undefined. */
  get(key: string): Promise<unknown>
  /** Every entry whose key starts with `prefix`, in key order, at most `limit`. */
  scan(prefix: string, limit?: number): Promise<[string, unknown][]>
  /** The values at `keys`, in their order (undefined: none). */
  getMany(keys: string[]): Promise<unknown[]>
  /**
   * Entries whose key starts with `prefix`, from `start` on (which must not
   * come before `prefix`), in key order (LevelDB's: by UTF-8 bytes), at most `limit`.
   */
  scanFrom(prefix: string, start: { key: string; inclusive: boolean }, limit: number): Promise<[string, unknown][]>
  /** Writes what is still queued, then closes. */
  close(): Promise<void>
}

export interface StoreStats {
  /** Batches written. */
  batches: number
  /** Batches written with sync: true (one fsync each). */
  syncs: number
  /** Write requests served; requests / batches is the group-commit factor. */
  requests: number
  ops: number
}

export interface WriteOptions {
  /** What the request is, e.g. `decision 1.42`: named when a group-commit failpoint fires. */
  label?: string
  /**
   * Nobody waits on this write's latency (an apply, whose ack only lets the
   * coordinator forget): it may wait for a batch that something else needs,
   * instead of paying for a sync of its own.
   */
  deferrable?: boolean
}
