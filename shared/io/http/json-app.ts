import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Logger } from '../runtime/logger.ts'
import type { TlsMaterial } from '../runtime/tls.ts'
import { errorBody } from '../../core/api-errors.ts'
import { installErrorHandling } from './error-handler.ts'

/** 512 characters (the key limit), each up to 4 UTF-8 bytes, each byte 3 characters percent-encoded. */
export const MAX_PARAM_LENGTH = 512 * 4 * 3

/**
 * The fastify instance every service starts from: our pino logger, no
 * per-request log lines (the hot path logs at debug itself), no type coercion
 * or silent removal of unknown fields (a wrong type is a 400), JSON bodies
 * only (text/plain is a 415), and the catalogue's error answers.
 */
export function createJsonApp(logger: Logger, bodyLimit?: number, tls?: TlsMaterial) {
  // Widened to fastify's logger type, so that apps are plain FastifyInstances.
  const loggerInstance: FastifyBaseLogger = logger
  const app = Fastify({
    loggerInstance,
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
    // TLS: HTTPS on this port. A client certificate is asked for but not required (curl has none; HTTP routes
    // take bearer tokens): the peer endpoints on the same port refuse a connection whose certificate the CA
    // did not sign (PeerServer.attach).
    ...(tls ? { https: { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false } } : {}),
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // A path parameter is a key of up to 512 characters, percent-encoded (up to 12 characters each): fastify's
    // default of 100 made keys longer than 100 (or 9 emoji) writable but not readable.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors fastify's router answers before any handler (a bad percent-encoding): in the catalogue's shape too.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.code(400).send(errorBody('bad_request', error.message))
    },
  }).withTypeProvider<TypeBoxTypeProvider>()
  installErrorHandling(app)
  app.removeContentTypeParser('text/plain')
  closeConnectionsWhenClosing(app)
  return app
}

/**
 * A request in flight when the node starts closing is answered, and its
 * connection closed with the answer (`Connection: close`). Fastify closes
 * the connections that are idle when close() begins, but one busy then
 * became idle later and stayed open, kept alive by the client, until the
 * graceful close timed out and the node exited 1 (a SIGTERM during a
 * transaction waiting for a vote: test/integration/lifecycle.test.ts).
 */
function closeConnectionsWhenClosing(app: FastifyInstance): void {
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close')
    done(null, payload)
  })
}
