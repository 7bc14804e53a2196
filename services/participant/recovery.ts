import { planParticipantRecovery, type ParticipantRecovery } from '../../shared/core/participant/recovery.ts'
import type { Store } from '../../shared/core/store.ts'

/** Loads the replica, the PREPARED records (in-doubt transactions) and the resolved markers. */
export async function recoverReplica(store: Store): Promise<ParticipantRecovery> {
  return planParticipantRecovery(await store.scan(''))
}
