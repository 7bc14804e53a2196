import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { answer, errorResponses, registerApiDocs } from '../../shared/io/http/api-docs.ts'
import Type from 'typebox'
import { CodedError } from '../../shared/core/api-errors.ts'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
import { installAccess } from '../../shared/io/http/access.ts'
import type { AccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import type { TlsMaterial } from '../../shared/io/runtime/tls.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { Prng } from '../../shared/core/prng.ts'
import type { ChaosEngine } from './engine.ts'
import { nodeRoles } from './faults.ts'
import type { RandomSchedule } from './random-schedule.ts'
import type { ScheduleOptions } from './schedule.ts'

export interface ChaosAppDeps {
  engine: ChaosEngine
  schedule: RandomSchedule
  logger: Logger
  /** ADMIN_TOKEN for every route but /healthz and the API document; none: open. */
  access?: AccessTokens
  /** Its API over HTTPS. */
  tls?: TlsMaterial
}

const maxDurationMs = 3_600_000
// Spelled out: TypeBox infers literal types only from literals (faults.ts has the same lists).
const Kind = Type.Union([Type.Literal('kill'), Type.Literal('pause'), Type.Literal('partition')])
const Role = Type.Union([Type.Literal('coordinator'), Type.Literal('participant')])
const Range = Type.Object({ min: Type.Integer({ minimum: 0, maximum: maxDurationMs }), max: Type.Integer({ minimum: 0, maximum: maxDurationMs }) }, { additionalProperties: false })

/**
 * The sidecar's HTTP API: inject a fault on demand, list and heal faults,
 * read the fault log, and start or stop the seeded random schedule.
 */
export function buildChaosApp({ engine, schedule, logger, access = [], tls }: ChaosAppDeps): FastifyInstance {
  const root = createJsonApp(logger, undefined, tls)
  installAccess(root, access)
  registerApiDocs(root, { title: 'Chaos sidecar', description: 'Faults on the cluster\'s nodes (kill, pause, partition), on demand or on a seeded random schedule, and the fault log.' })
  // In a plugin, registered after the API document's: its routes are in it.
  void root.register(async (plugin) => {
    routes(plugin.withTypeProvider<TypeBoxTypeProvider>(), engine, schedule)
  })
  return root
}

const Fault = answer({ id: Type.String(), kind: Kind, node: Type.String(), source: Type.String(), startedAt: Type.String() }, 'A fault: its id, kind, node, where it came from (api or schedule), when it started, and until when')
const Schedule = answer({ running: Type.Boolean() }, 'The random schedule: whether it runs, and its options')

function routes(app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>, engine: ChaosEngine, schedule: RandomSchedule): void {
  app.get('/healthz', { config: { access: 'open' }, schema: { summary: 'Alive', tags: ['operations'], response: { 200: answer({ status: Type.Literal('ok'), target: Type.String() }, 'The process answers, and what it acts on (docker or local processes)') } } }, async () => ({ status: 'ok', target: engine.target.kind }))
  app.get('/v1/nodes', { config: { access: 'admin' }, schema: { summary: 'The cluster\'s nodes, with their role and state', tags: ['faults'], response: { 200: answer({ nodes: Type.Array(answer({ name: Type.String(), role: Role }, 'A node')) }, 'Every node the sidecar may act on') } } }, async () => ({ nodes: await engine.nodes() }))
  app.get('/v1/faults', { config: { access: 'admin' }, schema: { summary: 'Active faults and the schedule', tags: ['faults'], response: { 200: answer({ active: Type.Array(Fault), schedule: Schedule }, 'What is in force now') } } }, async () => ({ active: engine.faults(), schedule: schedule.describe() }))
  app.get('/v1/events', { config: { access: 'admin' }, schema: { summary: 'The fault log: every fault and heal, in order', tags: ['faults'], response: { 200: answer({ events: Type.Array(answer({ at: Type.String(), event: Type.String(), kind: Type.String(), node: Type.String() }, 'A fault or heal')) }, 'The log') } } }, async () => ({ events: engine.events() }))

  app.post(
    '/v1/faults',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Inject a fault: on a named node, or on a free node of a role',
        tags: ['faults'],
        response: { 201: Fault, ...errorResponses('bad_request', 'invalid_json', 'unknown_node', 'node_busy', 'no_candidate', 'fault_failed') },
        body: Type.Object(
          {
            kind: Kind,
            node: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            role: Type.Optional(Role),
            durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: maxDurationMs })),
            permanent: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { kind, node, role, durationMs, permanent } = request.body
      const target = node ?? (await pickFreeNode(engine, role ?? 'participant'))
      const fault = await engine.inject({ kind, node: target, source: 'api', ...(durationMs === undefined ? {} : { durationMs }), ...(permanent === true ? { permanent } : {}) })
      return reply.code(201).send(fault)
    },
  )

  app.delete('/v1/faults/:id', { config: { access: 'admin' }, schema: { summary: 'Heal one fault (a kill for good too)', tags: ['faults'], params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: answer({ healed: Fault }, 'The fault healed'), ...errorResponses('bad_request', 'unknown_fault', 'fault_failed') } } }, async (request) => ({ healed: await engine.heal(request.params.id) }))

  const Healed = answer({ healed: Type.Array(Fault), kept: Type.Array(Fault), failed: Type.Array(Type.Object({})) }, 'What was healed, what was kept (kills for good, without ?all=true), and what failed')
  app.post('/v1/heal', { config: { access: 'admin' }, schema: { summary: 'Heal every fault and stop the schedule (?all=true: kills for good too)', tags: ['faults'], querystring: Type.Object({ all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }), response: { 200: Healed, 502: { ...Healed, description: 'Some heals failed, listed in failed (its own body, not a catalogue error)' }, ...errorResponses('bad_request') } } }, async (request, reply) => {
    schedule.stop() // "heal everything" means no new faults either; ?all=true: the kills for good too
    const result = await engine.healAll(request.query.all === 'true')
    return reply.code(result.failed.length === 0 ? 200 : 502).send(result)
  })

  app.get('/v1/schedule', { config: { access: 'admin' }, schema: { summary: 'The random schedule', tags: ['schedule'], response: { 200: Schedule } } }, async () => schedule.describe())
  app.put(
    '/v1/schedule',
    {
      config: { access: 'admin' },
      schema: {
        summary: 'Start the seeded random schedule (replaces a running one)',
        tags: ['schedule'],
        response: { 200: Schedule, ...errorResponses('bad_request', 'invalid_json') },
        body: Type.Object(
          {
            seed: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
            intervalMs: Range,
            durationMs: Range,
            mix: Type.Object({ kill: Type.Number({ minimum: 0 }), pause: Type.Number({ minimum: 0 }), partition: Type.Number({ minimum: 0 }) }, { additionalProperties: false }),
            roles: Type.Array(Role, { minItems: 1, maxItems: nodeRoles.length }),
            maxDown: Type.Integer({ minimum: 1, maximum: 64 }),
            killForGood: Type.Optional(Type.Object({ node: Type.String({ minLength: 1, maxLength: 128 }), afterMs: Type.Integer({ minimum: 0, maximum: maxDurationMs }) }, { additionalProperties: false })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const b = request.body
      if (b.intervalMs.min > b.intervalMs.max || b.durationMs.min > b.durationMs.max) throw new CodedError('bad_request', 'a range has min > max')
      if (b.mix.kill + b.mix.pause + b.mix.partition <= 0) throw new CodedError('bad_request', 'the fault mix gives every kind weight 0')
      const { killForGood, ...rest } = b
      const options: ScheduleOptions = { ...rest, intervalMs: [b.intervalMs.min, b.intervalMs.max], durationMs: [b.durationMs.min, b.durationMs.max], ...(killForGood ? { killForGood } : {}) }
      return schedule.start(options)
    },
  )
  app.delete('/v1/schedule', { config: { access: 'admin' }, schema: { summary: 'Stop the random schedule (its faults stay until healed)', tags: ['schedule'], response: { 200: Schedule } } }, async () => schedule.stop())
}

async function pickFreeNode(engine: ChaosEngine, role: 'coordinator' | 'participant'): Promise<string> {
  const busy = engine.busyNodes()
  const free = (await engine.nodes()).filter((n) => n.role === role && !busy.has(n.name))
  if (free.length === 0) throw new CodedError('no_candidate', `no ${role} is free for a fault`)
  return new Prng(Date.now() >>> 0).pick(free).name
}
