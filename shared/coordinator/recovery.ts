import { epochKey } from './machine.ts'
import type { DecisionRecord, EpochRecord } from './types.ts'

export interface CoordinatorRecovery {
  /** Must be written with sync before the machine starts: the new epoch's ids never repeat. */
  epochOp: { type: 'put'; key: string; value: EpochRecord }
  start: { epoch: number; epochs: EpochRecord[]; records: DecisionRecord[] }
}

/**
 * Pure: from the coordinator's whole log (key → value) to the new epoch and
 * the machine's start event. Used by the service and by the simulator alike.
 */
export function planCoordinatorRecovery(log: Iterable<[string, unknown]>, now: number): CoordinatorRecovery {
  const epochs: EpochRecord[] = []
  const records: DecisionRecord[] = []
  for (const [key, value] of log) {
    if (key.startsWith('epoch/')) epochs.push(value as EpochRecord)
    else if (key.startsWith('tx/')) records.push(value as DecisionRecord)
  }
  const epoch = epochs.reduce((max, e) => Math.max(max, e.epoch), 0) + 1
  const current: EpochRecord = { epoch, startedAt: now }
  // Creation order matters: garbage collection walks transactions oldest first.
  records.sort((a, b) => a.createdAt - b.createdAt)
  return { epochOp: { type: 'put', key: epochKey(epoch), value: current }, start: { epoch, epochs: [...epochs, current], records } }
}
