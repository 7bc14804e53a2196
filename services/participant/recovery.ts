import { cachedStartPrefixes, planParticipantRecovery, type ParticipantRecovery } from '../../shared/core/participant/recovery.ts'
import { recordPrefix } from '../../shared/core/record-keys.ts'
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
  // A coordinator's directory given by mistake: its first record fails as every record does in a whole scan.
  const foreign = await Promise.all([recordPrefix.decision, recordPrefix.epoch].map((prefix) => store.scan(prefix, 1)))
  return planParticipantRecovery([...parts.flat(), ...foreign.flat()])
}
