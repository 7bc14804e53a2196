import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CodedError } from '../../shared/core/api-errors.ts'
import { limits } from '../../shared/core/protocol/messages.ts'
import type { ReplyBody } from '../../shared/core/coordinator/types.ts'
import { answer, errorResponses } from '../../shared/io/http/api-docs.ts'
import { requestJson } from '../../shared/io/http/json-client.ts'
import { gatherFlow, gatherParticipants, GATHER_TIMEOUT_MS, type GatherDeps } from './cluster-gather.ts'
import type { CoordinatorConfig } from './config.ts'

/** The console's files: plain HTML, CSS and a browser module, no build step (the build copies them beside the compiled code). */
const ASSETS = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: 'console.css', type: 'text/css; charset=utf-8' },
} as const

/** Transactions this coordinator answered, by outcome, since it started: the console turns them into rates. */
export class AnswerCounts {
  committed = 0
  aborted = 0

  answered(body: ReplyBody): void {
    if (!body.ok) return
    if (body.result.outcome === 'committed') this.committed++
    else this.aborted++
  }
}

export interface ConsoleDeps extends GatherDeps {
  config: CoordinatorConfig
  counts: AnswerCounts
}

/**
 * The console (GET /console) and what it reads: a transaction's flow
 * gathered from every node, the cluster's state, and the chaos API through
 * this coordinator (same origin for the page; the caller's token is passed
 * on, so the nodes check it as if asked directly).
 */
export function registerConsoleRoutes(untyped: FastifyInstance, deps: ConsoleDeps): void {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>()
  for (const [path, asset] of Object.entries(ASSETS)) {
    const content = readFileSync(new URL(`./console/${asset.file}`, import.meta.url))
    // The page is in the API document (the README's table lists it); its script and style are not.
    const schema = path === '/console'
      ? { summary: 'The cluster console: one static page (no build step, nothing fetched from outside)', tags: ['console'], response: { 200: { description: 'The page', content: { 'text/html': { schema: Type.String() } } } } }
      : { hide: true }
    app.get(path, { config: { access: 'open' }, schema }, async (_request, reply) =>
      reply.type(asset.type).header('content-security-policy', "default-src 'self'; img-src 'self' data:; style-src 'self'").header('cache-control', 'no-cache').send(content),
    )
  }

  app.get(
    '/v1/transactions/:txId/trace',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'A transaction\'s space-time diagram as JSON: every node\'s messages, synced writes, timers, lined up on this coordinator\'s clock',
        tags: ['inspection'],
        params: Type.Object({ txId: Type.String({ minLength: 1, maxLength: limits.maxTxIdLength }) }),
        response: { 200: answer({ txId: Type.String(), nodes: Type.Array(Type.Object({}, { additionalProperties: true })), messages: Type.Array(Type.Object({}, { additionalProperties: true })), writes: Type.Array(Type.Object({}, { additionalProperties: true })), marks: Type.Array(Type.Object({}, { additionalProperties: true })), originUs: Type.Number(), spanUs: Type.Number() }, 'The flow; times in microseconds since its first event'), ...errorResponses('bad_request', 'unknown_transaction') },
      },
    },
    async (request) => {
      const flow = await gatherFlow(deps, request.params.txId, authorizationOf(request))
      if (flow.messages.length + flow.writes.length + flow.marks.length === 0) throw new CodedError('unknown_transaction', 'no node holds a trace of this transaction (never seen, evicted from the trace rings, or TRACE_TXNS=0)')
      return flow
    },
  )

  app.get(
    '/v1/cluster',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'The cluster as the console shows it: this coordinator, every participant (health, counters, in doubt), answers so far, and whether a chaos API is configured',
        tags: ['inspection'],
        response: { 200: answer({ coordinator: Type.Object({}, { additionalProperties: true }), participants: Type.Array(Type.Object({}, { additionalProperties: true })), answered: Type.Object({ committed: Type.Integer(), aborted: Type.Integer() }), chaos: Type.Boolean() }, 'A snapshot') },
      },
    },
    async (request) => ({
      coordinator: { name: deps.name, coordinators: deps.config.coordinators, protocol: deps.config.commitProtocol, ...deps.driver.machine.status(), links: deps.driver.linkStatus(), traceTxns: deps.driver.trace.capacity },
      participants: await gatherParticipants(deps, authorizationOf(request)),
      answered: { committed: deps.counts.committed, aborted: deps.counts.aborted },
      chaos: deps.config.chaosUrl !== '',
    }),
  )

  registerChaosProxy(untyped, deps.config)
}

function authorizationOf(request: FastifyRequest): string | undefined {
  return request.headers.authorization
}

/**
 * A fault or a heal may wait for the Docker engine (the sidecar allows it 30 s): a shorter wait would answer
 * 502 for a fault that was made, and a second click would make it twice.
 */
const CHAOS_ACTION_TIMEOUT_MS = 35_000

/** The chaos API's fault routes under /v1/chaos/, passed through with their status and body. */
function registerChaosProxy(app: FastifyInstance, config: CoordinatorConfig): void {
  const forward = async (request: FastifyRequest, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    if (config.chaosUrl === '') throw new CodedError('no_chaos_api')
    const authorization = authorizationOf(request)
    try {
      return await requestJson(`${config.chaosUrl.replace(/\/$/, '')}${path}`, { method, headers: authorization === undefined ? {} : { authorization }, body, timeoutMs: method === 'GET' ? 3 * GATHER_TIMEOUT_MS : CHAOS_ACTION_TIMEOUT_MS, tls: config.tls })
    } catch (err) {
      throw new CodedError('chaos_unreachable', `the chaos API at ${config.chaosUrl} did not answer: ${(err as Error).message}`)
    }
  }
  const schema = (summary: string) => ({ summary, tags: ['faults'], response: { 200: answer({}, 'The chaos API\'s own answer (its status code too)'), ...errorResponses('bad_request', 'no_chaos_api', 'chaos_unreachable') } })
  app.get('/v1/chaos/nodes', { config: { access: 'admin' }, schema: schema('The chaos API\'s nodes (through this coordinator)') }, async (request, reply) => {
    const a = await forward(request, 'GET', '/v1/nodes')
    return reply.code(a.status as 200).send(a.body)
  })
  app.get('/v1/chaos/faults', { config: { access: 'admin' }, schema: schema('The chaos API\'s active faults (through this coordinator)') }, async (request, reply) => {
    const a = await forward(request, 'GET', '/v1/faults')
    return reply.code(a.status as 200).send(a.body)
  })
  app.post(
    '/v1/chaos/faults',
    { config: { access: 'admin' }, schema: { ...schema('Inject a fault through the chaos API (its body: kind, node, durationMs)'), body: Type.Object({ kind: Type.String({ maxLength: 32 }), node: Type.Optional(Type.String({ maxLength: 128 })), durationMs: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }) } },
    async (request, reply) => {
      const a = await forward(request, 'POST', '/v1/faults', request.body)
      return reply.code(a.status as 200).send(a.body)
    },
  )
  app.post('/v1/chaos/heal', { config: { access: 'admin' }, schema: schema('Heal every fault through the chaos API') }, async (request, reply) => {
    const a = await forward(request, 'POST', '/v1/heal')
    return reply.code(a.status as 200).send(a.body)
  })
}
