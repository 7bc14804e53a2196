import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from '../runtime/logger.ts'
import { installErrorHandling } from './error-handler.ts'

/**
 * The fastify instance every service starts from: our pino logger, no
 * per-request log lines (the hot path logs at debug itself), no type coercion
 * or silent removal of unknown fields (a wrong type is a 400), JSON bodies
 * only (text/plain is a 415), and the catalogue's error answers.
 */
export function createJsonApp(logger: Logger, bodyLimit?: number) {
  // Widened to fastify's logger type, so that apps are plain FastifyInstances.
  const loggerInstance: FastifyBaseLogger = logger
  const app = Fastify({
    loggerInstance,
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  app.removeContentTypeParser('text/plain')
  return app
}
