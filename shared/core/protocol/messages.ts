import Type, { type Static } from 'typebox'

/**
 * Protocol messages between coordinator and participants. Every frame is
 * validated against these schemas on receipt (see codec.ts); the state
 * machines only ever see messages that passed.
 */

export const limits = {
  maxKeyLength: 512,
  maxValueLength: 256 * 1024,
  maxWritesPerTxn: 256,
  maxTxIdLength: 64,
  maxFrameBytes: 8 * 1024 * 1024,
  maxMessagesPerFrame: 4096,
} as const

const TxId = Type.String({ minLength: 1, maxLength: limits.maxTxIdLength })
const Key = Type.String({ minLength: 1, maxLength: limits.maxKeyLength })

export const WriteSchema = Type.Object(
  {
    key: Key,
    value: Type.String({ maxLength: limits.maxValueLength }),
    ifVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    ifAbsent: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

const Reason = Type.Object(
  {
    code: Type.Union([Type.Literal('conflict'), Type.Literal('precondition_failed'), Type.Literal('already_resolved')]),
    key: Type.Optional(Key),
    message: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
)

const Versions = Type.Record(Type.String(), Type.Integer({ minimum: 1 }))

// coordinator → participant
export const PrepareMsg = Type.Object(
  {
    type: Type.Literal('prepare'),
    txId: TxId,
    writes: Type.Array(WriteSchema, { minItems: 1, maxItems: limits.maxWritesPerTxn }),
  },
  { additionalProperties: false },
)
export const CommitMsg = Type.Object({ type: Type.Literal('commit'), txId: TxId }, { additionalProperties: false })
export const AbortMsg = Type.Object({ type: Type.Literal('abort'), txId: TxId }, { additionalProperties: false })
export const ReadMsg = Type.Object(
  { type: Type.Literal('read'), reqId: Type.Integer({ minimum: 0 }), key: Key },
  { additionalProperties: false },
)

// participant → coordinator
export const HelloMsg = Type.Object(
  { type: Type.Literal('hello'), participant: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
)
export const VoteMsg = Type.Object(
  {
    type: Type.Literal('vote'),
    txId: TxId,
    yes: Type.Boolean(),
    versions: Type.Optional(Versions),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
)
export const AckMsg = Type.Object({ type: Type.Literal('ack'), txId: TxId }, { additionalProperties: false })
export const QueryMsg = Type.Object({ type: Type.Literal('query'), txId: TxId }, { additionalProperties: false })
export const ReadResultMsg = Type.Object(
  {
    type: Type.Literal('readResult'),
    reqId: Type.Integer({ minimum: 0 }),
    entry: Type.Union([Type.Object({ value: Type.String(), version: Type.Integer({ minimum: 1 }) }), Type.Null()]),
    inDoubt: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)

/** Each direction's messages, by their `type`: the codec checks a message against its own type's schema. */
export const toParticipantSchemas = { prepare: PrepareMsg, commit: CommitMsg, abort: AbortMsg, read: ReadMsg } as const
export const toCoordinatorSchemas = { hello: HelloMsg, vote: VoteMsg, ack: AckMsg, query: QueryMsg, readResult: ReadResultMsg } as const

export const ToParticipant = Type.Union([PrepareMsg, CommitMsg, AbortMsg, ReadMsg])
export const ToCoordinator = Type.Union([HelloMsg, VoteMsg, AckMsg, QueryMsg, ReadResultMsg])

export type PrepareMsg = Static<typeof PrepareMsg>
export type VoteMsg = Static<typeof VoteMsg>
export type ToParticipant = Static<typeof ToParticipant>
export type ToCoordinator = Static<typeof ToCoordinator>
export type VoteReason = Static<typeof Reason>
