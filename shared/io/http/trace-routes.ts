import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { limits } from '../../core/protocol/messages.ts'
import { monotonicUs, type TraceRing } from '../trace/trace-ring.ts'
import { answer, errorResponses } from './api-docs.ts'

/**
 * GET /v1/trace/:txId: what this node saw of one transaction (its ring, see
 * TraceRing), with its monotonic clock's reading now, so that a gatherer can
 * line this node's times up with its own. GET /v1/trace: the most recent
 * transactions it holds. Both need ADMIN_TOKEN when one is set.
 */
export function registerTraceRoutes(untyped: FastifyInstance, node: { name: string; role: 'coordinator' | 'participant' }, trace: TraceRing): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>()
  const Event = Type.Object({ atUs: Type.Number(), kind: Type.String(), msg: Type.String(), peer: Type.Optional(Type.String()), sync: Type.Optional(Type.Boolean()), token: Type.Optional(Type.Integer()) })
  app.get(
    '/v1/trace/:txId',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'What this node saw of a transaction: messages, writes, timers, with its monotonic clock',
        tags: ['inspection'],
        params: Type.Object({ txId: Type.String({ minLength: 1, maxLength: limits.maxTxIdLength }) }),
        response: { 200: answer({ node: Type.String(), role: Type.String(), nowUs: Type.Number(), capacity: Type.Integer(), events: Type.Array(Event) }, 'This node\'s events of the transaction, oldest first (none: not traced here, or evicted)'), ...errorResponses('bad_request') },
      },
    },
    async (request) => ({ node: node.name, role: node.role, nowUs: monotonicUs(), capacity: trace.capacity, events: trace.get(request.params.txId) }),
  )
  app.get(
    '/v1/trace',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'The transactions this node holds a trace of, most recent first',
        tags: ['inspection'],
        // A query string is text (the app does not coerce types): a count from 1 to 1000, as digits.
        querystring: Type.Object({ limit: Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', default: '50', description: 'How many, from 1 to 1000' }) }, { additionalProperties: false }),
        response: { 200: answer({ node: Type.String(), capacity: Type.Integer(), truncated: Type.Integer(), transactions: Type.Array(Type.Object({ txId: Type.String() }, { additionalProperties: true })) }, 'Recent transactions (answer: the outcome the client was told, at a coordinator)'), ...errorResponses('bad_request') },
      },
    },
    async (request) => {
      return { node: node.name, capacity: trace.capacity, truncated: trace.truncated, transactions: trace.recent(Number(request.query.limit)) }
    },
  )
}
