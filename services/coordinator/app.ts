import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { answer, registerApiDocs } from '../../shared/io/http/api-docs.ts'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
import { installAccess } from '../../shared/io/http/access.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { Store } from '../../shared/core/store.ts'
import type { CoordinatorConfig } from './config.ts'
import type { CoordinatorDriver } from './driver.ts'
import type { CoordinatorMetrics } from './metrics.ts'
import { transactionRoutes } from './transaction-routes.ts'
import { keyRoutes } from './key-routes.ts'
import { registerTraceRoutes } from '../../shared/io/http/trace-routes.ts'
import { AnswerCounts, registerConsoleRoutes } from './console-routes.ts'

export interface CoordinatorAppDeps {
  config: CoordinatorConfig
  driver: CoordinatorDriver
  store: Store
  logger: Logger
  /** GET /metrics and the counts behind it (absent: no /metrics). */
  metrics?: CoordinatorMetrics
}

/** The coordinator's HTTP API; does not listen (main.ts does). */
export function buildCoordinatorApp({ config, driver, store, logger, metrics }: CoordinatorAppDeps): FastifyInstance {
  const app = createJsonApp(logger, config.bodyLimitBytes, config.tls)
  metrics?.countErrors(app)
  installAccess(app, config.access)
  registerApiDocs(app, { title: `Coordinator ${config.id}`, description: 'The client API: transactions, their status, reads; and the node\'s health and status.' })

  // In a plugin, registered after the API document's: its routes are in it.
  void app.register(async (app) => {
    app.get('/healthz', { config: { access: 'open' }, schema: { summary: 'Alive', tags: ['operations'], response: { 200: answer({ status: Type.Literal('ok') }, 'The process answers') } } }, async () => ({ status: 'ok' }))
    const Ready = answer({ ready: Type.Boolean(), participants: Type.Integer(), connected: Type.Integer() }, 'Ready: the decision log is open and every participant is connected')
    app.get('/readyz', { config: { access: 'open' }, schema: { summary: 'Ready to serve transactions', tags: ['operations'], response: { 200: Ready, 503: { ...Ready, description: 'Not ready (its own body, not a catalogue error)' } } } }, async (_request, reply) => {
      const connected = driver.connectedCount
      const ready = store.isOpen && connected === config.participants.length
      return reply.code(ready ? 200 : 503).send({ ready, participants: config.participants.length, connected })
    })
    const Status = answer({ coordinator: Type.String(), coordinators: Type.Array(Type.String()), epoch: Type.Integer(), inFlight: Type.Integer(), remembered: Type.Integer(), connected: Type.Array(Type.String()), links: Type.Record(Type.String(), Type.Object({})), store: Type.Object({}) }, 'Epoch, transactions in flight and remembered, links and storage counters')
    app.get('/v1/status', { config: { access: 'admin' }, schema: { summary: 'The coordinator\'s state and counters', tags: ['operations'], response: { 200: Status } } }, async () => {
      return { coordinator: config.id, coordinators: config.coordinators, ...driver.machine.status(), links: driver.linkStatus(), store: store.stats }
    })
    metrics?.route(app)
    const counts = new AnswerCounts()
    registerTraceRoutes(app, { name: config.id, role: 'coordinator' }, driver.trace)
    registerConsoleRoutes(app, { name: config.id, participants: config.participants, driver, tls: config.tls, config, counts })
    await app.register(transactionRoutes, {
      driver,
      config,
      onAnswered: (body, seconds) => {
        counts.answered(body)
        metrics?.answered(body, seconds)
      },
    })
    await app.register(keyRoutes, { driver })
  })
  return app
}
