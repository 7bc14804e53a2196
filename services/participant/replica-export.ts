import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { recordPrefix } from '../../shared/core/record-keys.ts'
import type { Entry } from '../../shared/core/protocol/types.ts'
import type { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { EXPORT_FORMAT, EXPORTED_PREFIXES, type ExportHeader, type ExportTrailer } from '../../shared/io/storage/replica-export-format.ts'
import { ReplicaDigester } from '../../shared/io/storage/replica-digest.ts'
import type { StoreSnapshot } from '../../shared/io/storage/level-store.ts'

export interface ReplicaExportDeps {
  participant: string
  /** How many transactions are prepared here (an apply being written counts as prepared until it is on disk). */
  preparedCount: () => number
  /** A snapshot of the store from this moment (level-store.ts). */
  snapshot: (prefixes: readonly string[]) => StoreSnapshot
  failpoints?: Failpoints | undefined
}

/** How often the export looks again for a moment with nothing prepared. */
const POLL_MS = 10

/**
 * The replica as NDJSON (replica-export-format.ts), from a snapshot taken at
 * a moment when nothing is prepared here: every transaction this participant
 * voted on is then resolved and applied on disk, so the copy is one
 * committed state. It need not pause anything: while the replica being
 * rebuilt is missing, no transaction can commit (each needs every
 * participant's vote), so the source's committed state cannot move on.
 * Undefined when something stayed prepared for the whole `waitMs`.
 */
export async function exportReplica(deps: ReplicaExportDeps, waitMs: number): Promise<Readable | undefined> {
  const deadline = Date.now() + waitMs
  while (deps.preparedCount() > 0) {
    if (Date.now() >= deadline) return undefined
    await sleep(POLL_MS)
  }
  // No await between the check above and the snapshot: nothing can be prepared in between.
  const snapshot = deps.snapshot(EXPORTED_PREFIXES)
  const header: ExportHeader = { format: EXPORT_FORMAT, participant: deps.participant, takenAt: Date.now() }
  const stream = Readable.from(lines(header, snapshot.records, deps.failpoints))
  // A client gone before the records were read (or midway) must not leave the snapshot pinned until the store closes.
  stream.once('close', () => { void snapshot.close() })
  return stream
}

async function* lines(header: ExportHeader, records: AsyncIterable<[string, unknown]>, failpoints: Failpoints | undefined): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`
  const digester = new ReplicaDigester()
  let count = 0
  for await (const [key, value] of records) {
    failpoints?.hit('participant.midReplicaExport')
    if (key.startsWith(recordPrefix.entry)) digester.add(key.slice(recordPrefix.entry.length), value as Entry)
    count++
    yield `${JSON.stringify([key, value])}\n`
  }
  const trailer: ExportTrailer = { end: true, records: count, ...digester.result() }
  yield `${JSON.stringify(trailer)}\n`
}
