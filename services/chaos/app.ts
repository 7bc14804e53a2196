import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { CodedError } from '../../shared/core/api-errors.ts'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
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
export function buildChaosApp({ engine, schedule, logger }: ChaosAppDeps): FastifyInstance {
  const app = createJsonApp(logger)

  app.get('/healthz', async () => ({ status: 'ok', target: engine.target.kind }))
  app.get('/v1/nodes', async () => ({ nodes: await engine.nodes() }))
  app.get('/v1/faults', async () => ({ active: engine.faults(), schedule: schedule.describe() }))
  app.get('/v1/events', async () => ({ events: engine.events() }))

  app.post(
    '/v1/faults',
    {
      schema: {
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

  app.delete('/v1/faults/:id', { schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }) } }, async (request) => ({ healed: await engine.heal(request.params.id) }))

  app.post('/v1/heal', { schema: { querystring: Type.Object({ all: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false }) } }, async (request, reply) => {
    schedule.stop() // "heal everything" means no new faults either; ?all=true: the kills for good too
    const result = await engine.healAll(request.query.all === 'true')
    return reply.code(result.failed.length === 0 ? 200 : 502).send(result)
  })

  app.get('/v1/schedule', async () => schedule.describe())
  app.put(
    '/v1/schedule',
    {
      schema: {
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
  app.delete('/v1/schedule', async () => schedule.stop())
  return app
}

async function pickFreeNode(engine: ChaosEngine, role: 'coordinator' | 'participant'): Promise<string> {
  const busy = engine.busyNodes()
  const free = (await engine.nodes()).filter((n) => n.role === role && !busy.has(n.name))
  if (free.length === 0) throw new CodedError('no_candidate', `no ${role} is free for a fault`)
  return new Prng(Date.now() >>> 0).pick(free).name
}
