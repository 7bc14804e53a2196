import Type, { type Static, type TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { abortReasons, type AbortReasonCode } from '../abort-reasons.ts'
import type { AbortReason, Entry, Write } from './types.ts'

/**
 * Records read back from disk are checked before they are trusted
 * (TIGER_STYLE: assert immediately after reading from disk): a record that
 * does not match its schema stops the node with an error naming its key,
 * instead of a cast that lets a corrupt value travel into the machine. Each
 * role's record schemas sit beside its machine (coordinator/records.ts,
 * participant/records.ts); the parts they share are here.
 */
export const Integer = (minimum: number) => Type.Integer({ minimum })
const preconditions = { ifVersion: Type.Optional(Integer(0)), ifAbsent: Type.Optional(Type.Boolean()) }
export const WriteRecord = Type.Union([
  Type.Object({ key: Type.String({ minLength: 1 }), value: Type.String(), ...preconditions }, { additionalProperties: false }),
  Type.Object({ key: Type.String({ minLength: 1 }), delete: Type.Literal(true), ...preconditions }, { additionalProperties: false }),
])
export const VersionsRecord = Type.Record(Type.String(), Integer(1))
export const AbortReasonRecord = Type.Object({
  participant: Type.String(),
  code: Type.Unsafe<AbortReasonCode>(Type.String({ enum: Object.keys(abortReasons) })),
  key: Type.Optional(Type.String()),
  message: Type.String(),
}, { additionalProperties: false })
export const EntrySchema = Type.Object({ value: Type.String(), version: Integer(1) }, { additionalProperties: false })

/** true when a schema says exactly what a type says: records.ts files check theirs with it, at compile time. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
/** Compiles only if every check is true. */
export type AllTrue<T extends readonly true[]> = T
export type SharedSchemasMatchTypes = AllTrue<[Same<Static<typeof EntrySchema>, Entry>, Same<Static<typeof WriteRecord>, Write>, Same<Static<typeof AbortReasonRecord>, AbortReason>]>

/** A record read back from disk that is not what this code writes there. */
export class CorruptRecordError extends Error {
  override readonly name = 'CorruptRecordError'
  constructor(readonly key: string, why: string) {
    super(`corrupt record at key "${key}": ${why}; the node stops rather than trust it (restore the data directory or remove the record)`)
  }
}

/** A checker for one record type: the value, typed, or a CorruptRecordError naming the key. */
export function recordReader<S extends TSchema>(schema: S): (key: string, value: unknown) => Static<S> {
  const validator = Compile(schema)
  return (key, value) => {
    if (validator.Check(value)) return value
    const [first] = validator.Errors(value) // a failed Check always has at least one error
    throw new CorruptRecordError(key, `${first!.instancePath || '/'} ${first!.message}`)
  }
}
