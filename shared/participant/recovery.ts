import type { Entry } from '../protocol/types.ts'
import { entryKey, preparedKey, resolvedKey } from './machine.ts'
import type { PreparedRecord, ResolvedRecord } from './types.ts'

export interface ParticipantRecovery {
  entries: [string, Entry][]
  prepared: PreparedRecord[]
  resolved: ResolvedRecord[]
}

const KV = entryKey('')
const PREP = preparedKey('')
const DONE = resolvedKey('')

/**
 * Pure: from a participant's whole store (key → value) to the machine's start
 * event: the replica, the PREPARED records (in-doubt transactions) and the
 * resolved markers. Used by the service and by the simulator alike.
 */
export function planParticipantRecovery(store: Iterable<[string, unknown]>): ParticipantRecovery {
  const out: ParticipantRecovery = { entries: [], prepared: [], resolved: [] }
  for (const [key, value] of store) {
    if (key.startsWith(KV)) out.entries.push([key.slice(KV.length), value as Entry])
    else if (key.startsWith(PREP)) out.prepared.push(value as PreparedRecord)
    else if (key.startsWith(DONE)) out.resolved.push(value as ResolvedRecord)
  }
  out.resolved.sort((a, b) => a.at - b.at)
  return out
}
