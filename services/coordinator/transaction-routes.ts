import Type, { type Static } from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CodedError } from '../../shared/core/api-errors.ts'
import { limits } from '../../shared/core/protocol/messages.ts'
import type { Write } from '../../shared/core/protocol/types.ts'
import type { ReplyBody } from '../../shared/core/coordinator/types.ts'
import type { CoordinatorDriver } from './driver.ts'
import type { CoordinatorConfig } from './config.ts'
import { marks } from '../../shared/io/runtime/marks.ts'
import { monotonicUs } from '../../shared/io/trace/trace-ring.ts'
import { answer, errorResponses } from '../../shared/io/http/api-docs.ts'
import { claimKey, isReservedKey, parseClaim } from '../../shared/core/protocol/client-id-claim.ts'
import { LONE_SURROGATE } from './lone-surrogate.ts'

export interface TransactionRouteOptions {
  driver: CoordinatorDriver
  config: CoordinatorConfig
  /** Told of every transaction answered, and how long it took. */
  onAnswered?: (body: ReplyBody, seconds: number) => void
}


/**
 * A write as a client sends it: a put (`value`) or a delete (`delete: true`).
 * One object with both optional, rather than a union, so that a write with
 * neither or both gets one clear message (checkWrites) instead of ajv's
 * "must match a schema in anyOf".
 */
const HttpWrite = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: limits.maxKeyLength }),
    value: Type.Optional(Type.String({ maxLength: limits.maxValueLength })),
    delete: Type.Optional(Type.Literal(true)),
    ifVersion: Type.Optional(Type.Integer({ minimum: 0 })),
    ifAbsent: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
type HttpWrite = Static<typeof HttpWrite>

/** Cross-field rules the schema cannot say; the writes as the protocol carries them. */
function checkWrites(writes: HttpWrite[]): Write[] {
  const seen = new Set<string>()
  return writes.map((w) => {
    if ((w.value === undefined) === (w.delete === undefined)) throw new CodedError('bad_request', `write ${JSON.stringify(w.key)} must have either a "value" or "delete": true`)
    // Stored as UTF-8, "\ud800" and "\udbff" would both become "\ufffd": two keys in memory, one on disk.
    if (LONE_SURROGATE.test(w.key) || LONE_SURROGATE.test(w.value ?? '')) throw new CodedError('bad_request', `the ${LONE_SURROGATE.test(w.key) ? 'key' : 'value'} of write ${JSON.stringify(w.key)} is not well-formed Unicode (a lone surrogate)`)
    if (isReservedKey(w.key)) throw new CodedError('bad_request', `key ${JSON.stringify(w.key)} is reserved: keys may not start with U+0000`)
    if (seen.has(w.key)) throw new CodedError('duplicate_key', `key "${w.key}" appears more than once`)
    seen.add(w.key)
    if (w.ifAbsent !== undefined && w.ifVersion !== undefined) {
      throw new CodedError('invalid_precondition', `key "${w.key}" has both ifVersion and ifAbsent`)
    }
    const { value, delete: _, ...rest } = w
    return value === undefined ? { ...rest, delete: true } : { ...rest, value }
  })
}

export const transactionRoutes: FastifyPluginAsyncTypebox<TransactionRouteOptions> = async (app, { driver, config, onAnswered }) => {

  const Reason = Type.Object({ participant: Type.String(), code: Type.String(), message: Type.String(), key: Type.Optional(Type.String()) })
  const Result = answer({ txId: Type.String(), id: Type.Optional(Type.String()), outcome: Type.Union([Type.Literal('committed'), Type.Literal('aborted')]), versions: Type.Optional(Type.Record(Type.String(), Type.Integer())), reasons: Type.Optional(Type.Array(Reason)) }, 'The outcome: committed with the new version of each key, or aborted with the reasons')
  const Description = answer({ txId: Type.String(), state: Type.Union([Type.Literal('preparing'), Type.Literal('committed'), Type.Literal('aborted')]) }, 'What this coordinator knows of the transaction (votes, acks, reasons, times), or, for another coordinator\'s, the outcome and the participant (or recovery ballot) it was learned from')

  app.post(
    '/v1/transactions',
    {
      config: { access: 'write' },
      schema: {
        summary: 'Run a transaction: a set of writes, committed on every participant or on none',
        tags: ['transactions'],
        response: { 200: Result, ...errorResponses('bad_request', 'invalid_json', 'duplicate_key', 'invalid_precondition', 'payload_too_large', 'unsupported_media_type', 'id_conflict', 'id_in_doubt', 'overloaded', 'no_replica') },
        body: Type.Object(
          {
            writes: Type.Array(HttpWrite, { minItems: 1, maxItems: limits.maxWritesPerTxn }),
            id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            timeoutMs: Type.Optional(Type.Integer({ minimum: config.minTimeoutMs, maximum: config.maxTimeoutMs })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      marks.mark('http request')
      const takenUs = driver.trace.enabled ? monotonicUs() : 0
      const { id, timeoutMs } = request.body
      const writes = checkWrites(request.body.writes)
      // The id becomes a key (its claim): the same UTF-8 rule as keys.
      if (id !== undefined && LONE_SURROGATE.test(id)) throw new CodedError('bad_request', 'the client id is not well-formed Unicode (a lone surrogate)')
      const started = performance.now()
      const body = await driver.submit(writes, id, timeoutMs)
      onAnswered?.(body, (performance.now() - started) / 1000)
      marks.mark('http reply')
      if (driver.trace.enabled && body.ok) {
        driver.trace.add(body.result.txId, { kind: 'request', msg: 'POST /v1/transactions' }, takenUs)
        driver.trace.add(body.result.txId, { kind: 'answer', msg: body.result.outcome })
      }
      if (!body.ok) throw new CodedError(body.error, body.message)
      request.log.debug({ txId: body.result.txId, outcome: body.result.outcome }, 'transaction answered')
      return body.result
    },
  )

  app.get(
    '/v1/transactions/:txId',
    { config: { access: 'read' }, schema: { summary: 'A transaction\'s status by txId, at any coordinator', tags: ['transactions'], params: Type.Object({ txId: Type.String({ minLength: 1, maxLength: limits.maxTxIdLength }) }), response: { 200: Description, ...errorResponses('bad_request', 'unknown_transaction', 'txn_in_doubt', 'no_replica', 'overloaded') } } },
    async (request) => {
      const d = driver.machine.describe(request.params.txId, Date.now())
      if (d) return d
      // Another coordinator's transaction (perhaps one that died): the participants say what they know.
      const answer = await driver.lookup(request.params.txId)
      if (!answer.ok) throw new CodedError(answer.error, answer.message)
      return { txId: answer.txId, state: answer.state, learnedFrom: answer.learnedFrom }
    },
  )

  app.get(
    '/v1/transactions',
    { config: { access: 'read' }, schema: { summary: 'A transaction\'s status by client id, at any coordinator', tags: ['transactions'], querystring: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false }), response: { 200: Description, ...errorResponses('bad_request', 'unknown_transaction', 'id_in_doubt', 'no_replica', 'overloaded') } } },
    async (request) => {
      const d = driver.machine.describeClient(request.query.id)
      if (d) return d
      // Not one of this coordinator's (or past its retention): the replicas hold the id's claim if a
      // transaction with it committed (client-id-claim.ts). Read like any key: a claim still held by a
      // transaction in doubt answers 503 id_in_doubt after READ_WAIT_MS.
      const answer = await driver.read(claimKey(request.query.id))
      if (!answer.ok && answer.error === 'key_in_doubt') {
        // The claim is held by the id's own transaction, in doubt there: look it up as by txId, which under
        // Paxos Commit leads a recovery ballot for it (a coordinator that died left it so).
        const held = answer.heldBy === undefined ? undefined : await driver.lookup(answer.heldBy)
        if (held?.ok === true) return { txId: held.txId, id: request.query.id, state: held.state, learnedFrom: held.learnedFrom }
        throw new CodedError('id_in_doubt', 'the replica asked holds this client id for a transaction still being decided, or did not answer in time; retry later')
      }
      if (!answer.ok) throw new CodedError(answer.error, answer.message)
      const claim = answer.entry === null ? undefined : parseClaim(answer.entry.value)
      if (!claim) throw new CodedError('unknown_transaction', 'no transaction with this client id is known here, and none with it committed')
      return { txId: claim.txId, id: request.query.id, state: 'committed', claimed: true }
    },
  )

}
