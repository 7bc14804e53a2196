import type { ListRange } from './listing.ts'

/** A read or a listing waiting for a key's lock to go (or, with a replica cache, for its keys to load). */
export interface PendingRead {
  reqId: number
  /** The key it waits on: its own, or for a listing the first held key of its page. */
  key: string
  /** A listing's range (participant/listing.ts); absent for a read of one key. */
  list?: ListRange
  /** The coordinator that asked: it numbers its reads, and gets the answer. */
  from: string
}
