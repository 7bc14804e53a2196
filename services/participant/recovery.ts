import { cachedStartPrefixes, planParticipantRecovery, type ParticipantRecovery } from '../../shared/core/participant/recovery.ts'
import type { Store } from '../../shared/core/store.ts'

/**
 * Loads the PREPARED records (in-doubt transactions), the resolved markers,
 * the acceptor records and the replica: all of it when the replica is held in
 * memory, and only the version floors when it is cached (`cached`: the rest
 * is read on demand, so start-up does not scan the replica).
 */
export async function recoverReplica(store: Store, cached: boolean): Promise<ParticipantRecovery> {
  if (!cached) return planParticipantRecovery(await store.scan(''))
  const parts = await Promise.all(cachedStartPrefixes.map((prefix) => store.scan(prefix)))
  return planParticipantRecovery(parts.flat())
}
