import { planParticipantRecovery, type ParticipantRecovery } from '../../shared/participant/recovery.ts'
import type { LevelStore } from '../../shared/storage/level-store.ts'

/** Loads the replica, the PREPARED records (in-doubt transactions) and the resolved markers. */
export async function recoverReplica(store: LevelStore): Promise<ParticipantRecovery> {
  return planParticipantRecovery(await store.scan(''))
}
