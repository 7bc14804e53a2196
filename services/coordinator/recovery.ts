import { epochKey } from '../../shared/coordinator/machine.ts'
import type { DecisionRecord, EpochRecord } from '../../shared/coordinator/types.ts'
import type { LevelStore } from '../../shared/storage/level-store.ts'

export interface RecoveredLog {
  epoch: number
  epochs: EpochRecord[]
  records: DecisionRecord[]
}

/**
 * Reads the decision log and starts a new epoch. The new epoch number is
 * synced before any transaction id of it is handed out, so ids never repeat
 * across restarts.
 */
export async function recoverCoordinatorLog(store: LevelStore, now: number): Promise<RecoveredLog> {
  const epochs = (await store.scan('epoch/')).map(([, value]) => value as EpochRecord)
  const epoch = epochs.reduce((max, e) => Math.max(max, e.epoch), 0) + 1
  const current: EpochRecord = { epoch, startedAt: now }
  await store.write([{ type: 'put', key: epochKey(epoch), value: current }], true)
  const records = (await store.scan('tx/')).map(([, value]) => value as DecisionRecord)
  // Creation order matters: garbage collection walks transactions oldest first.
  records.sort((a, b) => a.createdAt - b.createdAt)
  return { epoch, epochs: [...epochs, current], records }
}
