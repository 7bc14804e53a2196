import Type from 'typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { CodedError } from '../../shared/core/api-errors.ts'
import { limits } from '../../shared/core/protocol/messages.ts'
import { isReservedKey } from '../../shared/core/protocol/client-id-claim.ts'
import { answer, errorResponses } from '../../shared/io/http/api-docs.ts'
import type { CoordinatorDriver } from './driver.ts'
import { LONE_SURROGATE } from './lone-surrogate.ts'

export interface KeyRouteOptions {
  driver: CoordinatorDriver
}

const DEFAULT_LIST_LIMIT = 100

/** Reads: one key, or a page of keys by prefix (participant/listing.ts says what a page promises). */
export const keyRoutes: FastifyPluginAsyncTypebox<KeyRouteOptions> = async (app, { driver }) => {
  app.get(
    '/v1/keys',
    {
      config: { access: 'read' },
      schema: {
        summary: 'List committed keys by prefix, a page at a time',
        tags: ['keys'],
        querystring: Type.Object(
          {
            prefix: Type.Optional(Type.String({ maxLength: limits.maxKeyLength })),
            after: Type.Optional(Type.String({ maxLength: limits.maxKeyLength })),
            // A string: the app's ajv does not coerce types.
            limit: Type.Optional(Type.String({ pattern: `^[1-9][0-9]{0,${String(limits.maxListKeys).length - 1}}$` })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: answer({ keys: Type.Array(Type.Object({ key: Type.String(), value: Type.String(), version: Type.Integer() })), next: Type.Optional(Type.String()) }, 'The page, in key order (UTF-8 bytes); `next`, when more may follow, is the `after` of the next page'),
          ...errorResponses('bad_request', 'key_in_doubt', 'no_replica', 'overloaded'),
        },
      },
    },
    async (request) => {
      const { prefix = '', after = '' } = request.query
      const limit = request.query.limit === undefined ? DEFAULT_LIST_LIMIT : Number(request.query.limit)
      if (limit > limits.maxListKeys) throw new CodedError('bad_request', `limit must be 1..${limits.maxListKeys}`)
      for (const [name, text] of [['prefix', prefix], ['after', after]] as const) {
        if (LONE_SURROGATE.test(text)) throw new CodedError('bad_request', `${name} is not well-formed Unicode (a lone surrogate)`)
        if (isReservedKey(text)) throw new CodedError('bad_request', `${name} may not start with U+0000: those keys are reserved`)
      }
      const answer = await driver.list(prefix, after, limit)
      if (!answer.ok) throw new CodedError(answer.error, answer.message ?? (answer.error === 'key_in_doubt' ? `the first key of this page is held by a transaction still being decided${answer.heldBy === undefined ? '' : ` (${answer.heldBy})`}; retry later` : undefined))
      const { entries, more } = answer.page
      return more ? { keys: entries, next: entries.at(-1)!.key } : { keys: entries }
    },
  )

  app.get(
    '/v1/keys/:key',
    { config: { access: 'read' }, schema: { summary: 'Read a key\'s committed value', tags: ['keys'], params: Type.Object({ key: Type.String({ minLength: 1, maxLength: limits.maxKeyLength }) }), response: { 200: answer({ key: Type.String(), value: Type.String(), version: Type.Integer() }, 'The value and its version'), ...errorResponses('bad_request', 'key_not_found', 'key_in_doubt', 'no_replica', 'overloaded') } } },
    async (request) => {
      if (isReservedKey(request.params.key)) throw new CodedError('bad_request', 'keys starting with U+0000 are reserved')
      const answer = await driver.read(request.params.key)
      if (!answer.ok) throw new CodedError(answer.error, answer.message)
      const { entry } = answer
      if (!entry) throw new CodedError('key_not_found', `key "${request.params.key}" has no committed value`)
      return { key: request.params.key, value: entry.value, version: entry.version }
    },
  )
}
