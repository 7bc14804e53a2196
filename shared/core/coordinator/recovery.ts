import { CorruptRecordError, recordReader } from '../protocol/record-reader.ts'
import { decisionKey, epochKey, recordPrefix } from '../record-keys.ts'
import { DecisionRecordSchema, EpochRecordSchema } from './records.ts'
import type { DecisionRecord, EpochRecord } from './types.ts'

export interface CoordinatorRecovery {
  /** Must be written with sync before the machine starts: the new epoch's ids never repeat. */
  epochOp: { type: 'put'; key: string; value: EpochRecord }
  start: { epoch: number; epochs: EpochRecord[]; records: DecisionRecord[] }
}

const readEpoch = recordReader(EpochRecordSchema)
const readDecision = recordReader(DecisionRecordSchema)

/**
 * Pure: from the coordinator's whole log (key → value) to the new epoch and
 * the machine's start event. Every record is checked against its schema and
 * must sit under the key its own id gives it; anything else is a
 * CorruptRecordError naming the key. Used by the service and by the
 * simulator alike.
 */
export function planCoordinatorRecovery(log: Iterable<[string, unknown]>, now: number): CoordinatorRecovery {
  const epochs: EpochRecord[] = []
  const records: DecisionRecord[] = []
  for (const [key, value] of log) {
    if (key.startsWith(recordPrefix.epoch)) {
      const record = readEpoch(key, value)
      epochs.push(underItsKey(key, record, epochKey(record.epoch)))
    } else if (key.startsWith(recordPrefix.decision)) {
      const record = readDecision(key, value)
      records.push(underItsKey(key, record, decisionKey(record.txId)))
    } else if (!key.startsWith(recordPrefix.meta)) throw new CorruptRecordError(key, 'no coordinator record lives under this key (is DATA_DIR the right directory?)')
  }
  const epoch = epochs.reduce((max, e) => Math.max(max, e.epoch), 0) + 1
  const current: EpochRecord = { epoch, startedAt: now }
  // Creation order matters: garbage collection walks transactions oldest first.
  records.sort((a, b) => a.createdAt - b.createdAt)
  return { epochOp: { type: 'put', key: epochKey(epoch), value: current }, start: { epoch, epochs: [...epochs, current], records } }
}

function underItsKey<R>(key: string, record: R, expected: string): R {
  if (expected !== key) throw new CorruptRecordError(key, `the record belongs under "${expected}"`)
  return record
}
