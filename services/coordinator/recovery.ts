import { planCoordinatorRecovery, type CoordinatorRecovery } from '../../shared/core/coordinator/recovery.ts'
import type { Store } from '../../shared/core/store.ts'

/**
 * Reads the decision log and starts a new epoch: the epoch record is synced
 * before any transaction id of it is handed out.
 */
export async function recoverCoordinatorLog(store: Store, now: number): Promise<CoordinatorRecovery['start']> {
  const plan = planCoordinatorRecovery(await store.scan(''), now)
  await store.write([plan.epochOp], true)
  return plan.start
}
