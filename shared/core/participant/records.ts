import Type, { type Static } from 'typebox'
import { VersionsRecord, WriteRecord, type AllTrue, type Same } from '../protocol/record-reader.ts'
import type { PreparedRecord, ResolvedRecord } from './types.ts'

/** What a participant writes besides its entries: the PREPARED record and the resolved marker. */
export const PreparedRecordSchema = Type.Object({ txId: Type.String({ minLength: 1 }), writes: Type.Array(WriteRecord, { minItems: 1 }), versions: VersionsRecord, preparedAt: Type.Number() }, { additionalProperties: false })
export const ResolvedRecordSchema = Type.Object({ txId: Type.String({ minLength: 1 }), outcome: Type.Union([Type.Literal('committed'), Type.Literal('aborted')]), at: Type.Number() }, { additionalProperties: false })

export type SchemasMatchTypes = AllTrue<[Same<Static<typeof PreparedRecordSchema>, PreparedRecord>, Same<Static<typeof ResolvedRecordSchema>, ResolvedRecord>]>
