import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { installErrorHandling } from '../../shared/http/error-handler.ts'
import type { Logger } from '../../shared/runtime/logger.ts'
import type { LevelStore } from '../../shared/storage/level-store.ts'
import type { CoordinatorConfig } from './config.ts'
import type { CoordinatorDriver } from './driver.ts'
import { transactionRoutes } from './routes/transactions.ts'

export interface CoordinatorAppDeps {
  config: CoordinatorConfig
  driver: CoordinatorDriver
  store: LevelStore
  logger: Logger
}

/** The coordinator's HTTP API; does not listen (main.ts does). */
export function buildCoordinatorApp({ config, driver, store, logger }: CoordinatorAppDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: asFastifyLogger(logger), bodyLimit: config.bodyLimitBytes, logController: new LogController({ disableRequestLogging: true }), ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  app.removeContentTypeParser('text/plain')

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const connected = driver.connectedCount
    const ready = store.isOpen && connected === config.participants.length
    return reply.code(ready ? 200 : 503).send({ ready, participants: config.participants.length, connected })
  })
  app.get('/v1/status', async () => {
    const s = driver.machine.state
    return { epoch: s.epoch, inFlight: s.inFlight, remembered: s.txns.size, connected: s.connected, store: store.stats }
  })
  void app.register(transactionRoutes, { driver, config })
  return app
}

/** pino's Logger is a FastifyBaseLogger; widening keeps the app's type the plain FastifyInstance. */
function asFastifyLogger(logger: Logger): FastifyBaseLogger {
  return logger
}
