import { CorruptRecordError, EntrySchema, recordReader } from '../protocol/record-reader.ts'
import type { Entry } from '../protocol/types.ts'
import { acceptorKey, entryKey, preparedKey, recordPrefix, resolvedKey } from '../record-keys.ts'
import { FLOOR_PREFIX, isFloorKey } from './version-floor.ts'
import { entriesBytes } from './replica-cache.ts'
import type { AcceptorRecord } from '../paxos/acceptor.ts'
import { AcceptorRecordSchema, PreparedRecordSchema, ResolvedRecordSchema } from './records.ts'
import type { PreparedRecord, ResolvedRecord } from './types.ts'

export interface ParticipantRecovery {
  entries: [string, Entry][]
  prepared: PreparedRecord[]
  resolved: ResolvedRecord[]
  /** Paxos Commit's acceptor records (none under 2PC). */
  acceptors: AcceptorRecord[]
  /** With a replica cache: `entries` is the whole replica (cachedStart). */
  complete?: boolean
}

const readEntry = recordReader(EntrySchema)
const readPrepared = recordReader(PreparedRecordSchema)
const readResolved = recordReader(ResolvedRecordSchema)
const readAcceptor = recordReader(AcceptorRecordSchema)

/**
 * Pure: from a participant's whole store (key → value) to the machine's start
 * event: the replica, the PREPARED records (in-doubt transactions) and the
 * resolved markers. Every record is checked against its schema, and must sit
 * under the key its own id gives it; anything else is a CorruptRecordError
 * naming the key. Used by the service and by the simulator alike.
 */
export function planParticipantRecovery(store: Iterable<[string, unknown]>): ParticipantRecovery {
  const out: ParticipantRecovery = { entries: [], prepared: [], resolved: [], acceptors: [] }
  for (const [key, value] of store) {
    if (key.startsWith(recordPrefix.entry)) out.entries.push([key.slice(recordPrefix.entry.length), readEntry(key, value)])
    else if (key.startsWith(recordPrefix.prepared)) out.prepared.push(underItsKey(key, readPrepared(key, value), preparedKey))
    else if (key.startsWith(recordPrefix.resolved)) out.resolved.push(underItsKey(key, readResolved(key, value), resolvedKey))
    else if (key.startsWith(recordPrefix.acceptor)) out.acceptors.push(underItsKey(key, readAcceptor(key, value), acceptorKey))
    // meta/ (the replica's identity) belongs to the adapter: passed by.
    else if (!key.startsWith(recordPrefix.meta)) throw new CorruptRecordError(key, 'no participant record lives under this key (is DATA_DIR the right directory?)')
  }
  out.resolved.sort((a, b) => a.at - b.at)
  return out
}

/**
 * What a participant with a replica cache always reads at start: every record
 * but the replica's entries, of which only the version floors (all of them
 * stay in memory, replica-cache.ts). The whole replica only if it fits
 * (cachedStart); else the rest is read on demand.
 */
export const cachedStartPrefixes = [entryKey(FLOOR_PREFIX), recordPrefix.prepared, recordPrefix.resolved, recordPrefix.acceptor] as const

/**
 * A replica cache's start. When the whole replica was read (`readWhole`) and
 * fits in the budget, the cache starts with all of it, `complete`: a key it
 * does not hold is then absent, and inserts of new keys read nothing from the
 * store until the first eviction. Otherwise it keeps only the version floors.
 */
export function cachedStart(plan: ParticipantRecovery, maxBytes: number, readWhole: boolean): ParticipantRecovery {
  if (readWhole && entriesBytes(plan.entries) <= maxBytes) return { ...plan, complete: true }
  return { ...plan, entries: plan.entries.filter(([key]) => isFloorKey(key)) }
}

function underItsKey<R extends { txId: string }>(key: string, record: R, keyOf: (txId: string) => string): R {
  if (keyOf(record.txId) !== key) throw new CorruptRecordError(key, `the record names transaction ${record.txId}, whose key is "${keyOf(record.txId)}"`)
  return record
}
