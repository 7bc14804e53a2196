import { recordPrefix } from '../../core/record-keys.ts'

/**
 * A replica as one participant sends it to another that is being rebuilt
 * (GET /v1/replica/export, `npm run replica -- rebuild`): NDJSON, one header
 * line, one `[storeKey, record]` line per record, one trailer line. The
 * trailer is what proves the copy complete: a stream cut anywhere (the
 * source killed, the connection lost) has none, and the importer keeps
 * nothing of it.
 */
export const EXPORT_FORMAT = 'txn-replica-export/1'

/**
 * What a rebuilt replica takes: the committed entries (client keys, client
 * ids' claims, version floors) and the resolved markers (the outcome of every
 * transaction the source remembers, which it answers lookups and late
 * messages with). Not the source's PREPARED records (an export waits until
 * there are none), its acceptor records (its own promises, not the
 * target's), nor its identity.
 */
export const EXPORTED_PREFIXES: readonly string[] = [recordPrefix.entry, recordPrefix.resolved]

export interface ExportHeader {
  format: typeof EXPORT_FORMAT
  participant: string
  takenAt: number
}

export interface ExportTrailer {
  end: true
  /** Lines of records sent. */
  records: number
  /** The digest (replica-digest.ts) over the committed entries sent, and how many there were. */
  entries: number
  digest: string
}
