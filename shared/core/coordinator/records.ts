import Type, { type Static } from 'typebox'
import { AbortReasonRecord, Integer, VersionsRecord, type AllTrue, type Same } from '../protocol/record-reader.ts'
import type { DecisionRecord, EpochRecord } from './types.ts'

/** What the coordinator's log holds: a decision record per transaction, an epoch record per start. */
export const DecisionRecordSchema = Type.Object({
  txId: Type.String({ minLength: 1 }),
  clientId: Type.Optional(Type.String()),
  writesHash: Type.Union([Type.String(), Type.Integer()]),
  keys: Type.Array(Type.String()),
  outcome: Type.Union([Type.Literal('committed'), Type.Literal('aborted'), Type.Literal('undecided')]),
  reasons: Type.Optional(Type.Array(AbortReasonRecord)),
  versions: Type.Optional(VersionsRecord),
  createdAt: Type.Number(),
  decidedAt: Type.Optional(Type.Number()),
  ended: Type.Boolean(),
}, { additionalProperties: false })
export const EpochRecordSchema = Type.Object({ epoch: Integer(1), startedAt: Type.Number() }, { additionalProperties: false })

export type SchemasMatchTypes = AllTrue<[Same<Static<typeof DecisionRecordSchema>, DecisionRecord>, Same<Static<typeof EpochRecordSchema>, EpochRecord>]>
