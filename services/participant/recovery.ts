import { entryKey, preparedKey, resolvedKey } from '../../shared/participant/machine.ts'
import type { PreparedRecord, ResolvedRecord } from '../../shared/participant/types.ts'
import type { Entry } from '../../shared/protocol/types.ts'
import type { LevelStore } from '../../shared/storage/level-store.ts'

export interface RecoveredReplica {
  entries: [string, Entry][]
  prepared: PreparedRecord[]
  resolved: ResolvedRecord[]
}

const strip = (prefix: string) => (key: string): string => key.slice(prefix.length)

/** Loads the replica, the PREPARED records (in-doubt transactions) and the resolved markers. */
export async function recoverReplica(store: LevelStore): Promise<RecoveredReplica> {
  const key = strip(entryKey(''))
  const entries = (await store.scan(entryKey(''))).map(([k, v]): [string, Entry] => [key(k), v as Entry])
  const prepared = (await store.scan(preparedKey(''))).map(([, v]) => v as PreparedRecord)
  const resolved = (await store.scan(resolvedKey(''))).map(([, v]) => v as ResolvedRecord).sort((a, b) => a.at - b.at)
  return { entries, prepared, resolved }
}
