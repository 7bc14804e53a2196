import type { FastifyInstance } from 'fastify'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { Store } from '../../shared/core/store.ts'
import type { CoordinatorConfig } from './config.ts'
import type { CoordinatorDriver } from './driver.ts'
import type { CoordinatorMetrics } from './metrics.ts'
import { transactionRoutes } from './transaction-routes.ts'

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
  const app = createJsonApp(logger, config.bodyLimitBytes)
  metrics?.install(app)

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const connected = driver.connectedCount
    const ready = store.isOpen && connected === config.participants.length
    return reply.code(ready ? 200 : 503).send({ ready, participants: config.participants.length, connected })
  })
  app.get('/v1/status', async () => {
    return { coordinator: config.id, coordinators: config.coordinators, ...driver.machine.status(), links: driver.linkStatus(), store: store.stats }
  })
  void app.register(transactionRoutes, { driver, config, ...(metrics === undefined ? {} : { onAnswered: (body, seconds) => { metrics.answered(body, seconds) } }) })
  return app
}
