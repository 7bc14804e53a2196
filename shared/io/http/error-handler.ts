import type { FastifyError, FastifyInstance } from 'fastify'
import { CodedError, errorBody, type ApiErrorCode } from '../../core/api-errors.ts'

/** Maps fastify's own errors onto our catalogue. */
function codeOf(err: FastifyError): ApiErrorCode {
  if (err.validation) return 'bad_request'
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'invalid_json'
  }
  if (err instanceof SyntaxError) return 'invalid_json'
  if (err.statusCode === 413) return 'payload_too_large'
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return 'bad_request'
  return 'internal'
}

/** Every error answer is `{ error, message }` with a catalogue code; a 5xx is logged, never leaked. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof CodedError) {
      if (err.code === 'overloaded' || err.code === 'key_in_doubt' || err.code === 'id_in_doubt' || err.code === 'no_replica') reply.header('retry-after', '1')
      return reply.code(err.statusCode).send(errorBody(err.code, err.message))
    }
    const code = codeOf(err)
    if (code === 'internal') {
      request.log.error({ err }, 'request failed')
      return reply.code(500).send(errorBody('internal'))
    }
    const status = code === 'bad_request' || code === 'invalid_json' ? 400 : err.statusCode ?? 400
    return reply.code(status).send(errorBody(code, code === 'bad_request' || code === 'invalid_json' ? err.message : undefined))
  })
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url}`)))
}

export const ErrorBodySchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const
