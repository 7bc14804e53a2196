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
  /** Keys a listing asks for at most, and the JSON size of one page of answer (well under a frame). */
  maxListKeys: 1000,
  maxListBytes: 4 * 1024 * 1024,
} as const

const TxId = Type.String({ minLength: 1, maxLength: limits.maxTxIdLength })
const Key = Type.String({ minLength: 1, maxLength: limits.maxKeyLength })

const preconditions = { ifVersion: Type.Optional(Type.Integer({ minimum: 0 })), ifAbsent: Type.Optional(Type.Boolean()) }
/** A write on the wire: a put (`value`) or a delete (`delete: true`), never both. */
export const WriteSchema = Type.Union([
  Type.Object({ key: Key, value: Type.String({ maxLength: limits.maxValueLength }), ...preconditions }, { additionalProperties: false }),
  Type.Object({ key: Key, delete: Type.Literal(true), ...preconditions }, { additionalProperties: false }),
])

const Reason = Type.Object(
  {
    code: Type.Union([Type.Literal('conflict'), Type.Literal('precondition_failed'), Type.Literal('already_resolved')]),
    key: Type.Optional(Key),
    message: Type.String({ maxLength: 1024 }),
    /** A client id's claim that exists already: its value (client-id-claim.ts). */
    found: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
)

const Versions = Type.Record(Type.String(), Type.Integer({ minimum: 1 }))

// coordinator → participant
export const PrepareMsg = Type.Object(
  {
    type: Type.Literal('prepare'),
    txId: TxId,
    // The client's writes, and the claim of its client id (client-id-claim.ts).
    writes: Type.Array(WriteSchema, { minItems: 1, maxItems: limits.maxWritesPerTxn + 1 }),
  },
  { additionalProperties: false },
)
export const CommitMsg = Type.Object({ type: Type.Literal('commit'), txId: TxId }, { additionalProperties: false })
export const AbortMsg = Type.Object({ type: Type.Literal('abort'), txId: TxId }, { additionalProperties: false })
export const ReadMsg = Type.Object(
  { type: Type.Literal('read'), reqId: Type.Integer({ minimum: 0 }), key: Key },
  { additionalProperties: false },
)
/** A page of committed keys (see participant/listing.ts); `after` is exclusive. */
export const ListMsg = Type.Object(
  { type: Type.Literal('list'), reqId: Type.Integer({ minimum: 0 }), prefix: Type.String({ maxLength: limits.maxKeyLength }), after: Type.String({ maxLength: limits.maxKeyLength }), limit: Type.Integer({ minimum: 1, maximum: limits.maxListKeys }) },
  { additionalProperties: false },
)
/** A coordinator asks what a participant knows of another coordinator's transaction (a status lookup). */
export const StatusQueryMsg = Type.Object({ type: Type.Literal('statusQuery'), reqId: Type.Integer({ minimum: 0 }), txId: TxId }, { additionalProperties: false })

// Paxos Commit (see ../paxos/): between the coordinator, the participants and recovery leaders
const NodeName = Type.String({ minLength: 1, maxLength: 128 })
/** How the coordinator names itself in a message's `from` (participants are named otherwise). */
export const COORDINATOR_NODE = 'coordinator'
const Ballot = Type.Integer({ minimum: 0 })
const PaxosValue = Type.Union([Type.Literal('prepared'), Type.Literal('aborted')])
const maxInstances = 64
const InstanceValues = Type.Record(NodeName, PaxosValue, { maxProperties: maxInstances })
const AcceptedValues = Type.Record(NodeName, Type.Object({ ballot: Ballot, value: PaxosValue }, { additionalProperties: false }), { maxProperties: maxInstances })
const Outcome = Type.Union([Type.Literal('committed'), Type.Literal('aborted')])
/** A recovery leader asks every acceptor to promise `ballot` for all the transaction's instances. */
export const Phase1aMsg = Type.Object({ type: Type.Literal('phase1a'), txId: TxId, ballot: Ballot }, { additionalProperties: false })
/** An acceptor's promise, with what it accepted; `promised` set: it refuses, having promised that higher ballot. */
export const Phase1bMsg = Type.Object(
  { type: Type.Literal('phase1b'), txId: TxId, ballot: Ballot, from: NodeName, accepted: AcceptedValues, promised: Type.Optional(Ballot) },
  { additionalProperties: false },
)
/** A proposal: ballot 0 from a participant for its own instance, or a leader's for every instance. */
export const Phase2aMsg = Type.Object({ type: Type.Literal('phase2a'), txId: TxId, ballot: Ballot, values: InstanceValues }, { additionalProperties: false })
/** An acceptor accepted (durably) these values at this ballot: to the ballot's owner (the coordinator for ballot 0). */
export const Phase2bMsg = Type.Object({ type: Type.Literal('phase2b'), txId: TxId, ballot: Ballot, from: NodeName, values: InstanceValues }, { additionalProperties: false })
/** The transaction's outcome, from a node that knows it was chosen. */
export const OutcomeMsg = Type.Object({ type: Type.Literal('outcome'), txId: TxId, from: NodeName, outcome: Outcome }, { additionalProperties: false })
/**
 * `from` has resolved the transaction, and that is durable: it will never be
 * in doubt about it again, nor lead a ballot for it. With `ask` (participant
 * to participant, or to the coordinator), the receiver answers the same once
 * it is true of itself. A participant drops a resolved marker only once every
 * other participant and the coordinator said so (see ParticipantPaxos.mayForget).
 */
export const ResolvedMsg = Type.Object({ type: Type.Literal('resolved'), txId: TxId, from: NodeName, outcome: Outcome, ask: Type.Boolean() }, { additionalProperties: false })

// participant → coordinator
export const HelloMsg = Type.Object(
  {
    type: Type.Literal('hello'),
    participant: Type.String({ minLength: 1, maxLength: 128 }),
    /** To a coordinator: which replica this is, and how it came to be (a coordinator refuses an empty one it does not know). */
    replica: Type.Optional(Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), origin: Type.Union([Type.Literal('empty'), Type.Literal('rebuilt'), Type.Literal('existing')]) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
)
/**
 * coordinator → participant, once it checked the participant's hello: whether this replica is one it admits
 * (replica-identity.ts). Refused, the reason says what to do, and the coordinator closes the connection.
 */
export const AdmissionMsg = Type.Object({ type: Type.Literal('admission'), admitted: Type.Boolean(), reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false })
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
    /** With inDoubt: the transaction that holds the key (a coordinator may look it up, and under Paxos Commit finish it). */
    heldBy: Type.Optional(TxId),
  },
  { additionalProperties: false },
)

export const ListResultMsg = Type.Object(
  {
    type: Type.Literal('listResult'),
    reqId: Type.Integer({ minimum: 0 }),
    entries: Type.Array(Type.Object({ key: Key, value: Type.String(), version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }), { maxItems: limits.maxListKeys }),
    /** More keys may follow the last entry. */
    more: Type.Boolean(),
    /** The first key of the page stayed held past the wait: no page. */
    inDoubt: Type.Optional(Type.Boolean()),
    heldBy: Type.Optional(TxId),
  },
  { additionalProperties: false },
)

/** What a participant knows of a transaction: decided either way, prepared and waiting, or nothing (never seen, or forgotten). */
export const StatusResultMsg = Type.Object(
  {
    type: Type.Literal('statusResult'),
    reqId: Type.Integer({ minimum: 0 }),
    txId: TxId,
    state: Type.Union([Type.Literal('committed'), Type.Literal('aborted'), Type.Literal('prepared'), Type.Literal('unknown')]),
  },
  { additionalProperties: false },
)

/** Each direction's messages, by their `type`: the codec checks a message against its own type's schema. */
export const toParticipantSchemas = {
  prepare: PrepareMsg,
  commit: CommitMsg,
  abort: AbortMsg,
  read: ReadMsg,
  list: ListMsg,
  statusQuery: StatusQueryMsg,
  phase1a: Phase1aMsg,
  phase1b: Phase1bMsg,
  phase2a: Phase2aMsg,
  phase2b: Phase2bMsg,
  outcome: OutcomeMsg,
  resolved: ResolvedMsg,
  admission: AdmissionMsg,
} as const
export const toCoordinatorSchemas = {
  hello: HelloMsg,
  vote: VoteMsg,
  ack: AckMsg,
  query: QueryMsg,
  readResult: ReadResultMsg,
  listResult: ListResultMsg,
  statusResult: StatusResultMsg,
  phase1b: Phase1bMsg,
  phase2b: Phase2bMsg,
  outcome: OutcomeMsg,
  resolved: ResolvedMsg,
} as const

export const ToParticipant = Type.Union([PrepareMsg, CommitMsg, AbortMsg, ReadMsg, ListMsg, StatusQueryMsg, Phase1aMsg, Phase1bMsg, Phase2aMsg, Phase2bMsg, OutcomeMsg, ResolvedMsg, AdmissionMsg])
export const ToCoordinator = Type.Union([HelloMsg, VoteMsg, AckMsg, QueryMsg, ReadResultMsg, ListResultMsg, StatusResultMsg, Phase1bMsg, Phase2bMsg, OutcomeMsg, ResolvedMsg])

export type PrepareMsg = Static<typeof PrepareMsg>
export type VoteMsg = Static<typeof VoteMsg>
export type ToParticipant = Static<typeof ToParticipant>
export type ToCoordinator = Static<typeof ToCoordinator>
export type VoteReason = Static<typeof Reason>
export type ParticipantTxnState = Static<typeof StatusResultMsg>['state']
export type Phase1bMsg = Static<typeof Phase1bMsg>
export type Phase2bMsg = Static<typeof Phase2bMsg>
export type PaxosMsg = Static<typeof Phase1aMsg> | Phase1bMsg | Static<typeof Phase2aMsg> | Phase2bMsg | Static<typeof OutcomeMsg> | Static<typeof ResolvedMsg>
