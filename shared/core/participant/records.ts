import Type, { type Static } from 'typebox'
import { VersionsRecord, WriteRecord, type AllTrue, type Same } from '../protocol/record-reader.ts'
import type { AcceptorRecord } from '../paxos/acceptor.ts'
import type { PreparedRecord, ResolvedRecord } from './types.ts'

/** What a participant writes besides its entries: the PREPARED record and the resolved marker. */
export const PreparedRecordSchema = Type.Object({ txId: Type.String({ minLength: 1 }), writes: Type.Array(WriteRecord, { minItems: 1 }), versions: VersionsRecord, preparedAt: Type.Number(), floors: Type.Optional(Type.Record(Type.String(), Type.Integer({ minimum: 0 }))) }, { additionalProperties: false })
export const ResolvedRecordSchema = Type.Object({ txId: Type.String({ minLength: 1 }), outcome: Type.Union([Type.Literal('committed'), Type.Literal('aborted')]), at: Type.Number() }, { additionalProperties: false })

const PaxosValue = Type.Union([Type.Literal('prepared'), Type.Literal('aborted')])
/** Paxos Commit: the acceptor's promise and accepted values for one transaction's instances. */
export const AcceptorRecordSchema = Type.Object({
  txId: Type.String({ minLength: 1 }),
  promised: Type.Integer({ minimum: 0 }),
  accepted: Type.Record(Type.String(), Type.Object({ ballot: Type.Integer({ minimum: 0 }), value: PaxosValue }, { additionalProperties: false })),
}, { additionalProperties: false })

export type SchemasMatchTypes = AllTrue<[
  Same<Static<typeof PreparedRecordSchema>, PreparedRecord>,
  Same<Static<typeof ResolvedRecordSchema>, ResolvedRecord>,
  Same<Static<typeof AcceptorRecordSchema>, AcceptorRecord>,
]>
