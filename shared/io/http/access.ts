import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import bearerAuth from '@fastify/bearer-auth'
import { CodedError } from '../../core/api-errors.ts'
import { errorResponses } from './api-docs.ts'
import { SCOPE_RANK, type AccessTokens, type Scope } from '../runtime/access-tokens.ts'

/** Who may call a route: anyone, or a bearer token of at least this scope. */
export type Access = 'open' | Scope

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Every route says it; a route that does not fails to register (installAccess). */
    access?: Access
  }
}

/** Routes of the API document's plugins (@fastify/swagger-ui), which we do not declare ourselves: open. */
const DOC_ROUTE = /^\/(openapi\.json|docs)(\/|$)/

/**
 * Bearer tokens on a fastify app (`@fastify/bearer-auth` parses the header
 * and refuses a missing or unknown token): each route declares its access in
 * `config.access`, and a route that declares none is refused at registration,
 * so that no route is open by omission. With no token configured every route
 * is open (a node on loopback; see requireTokensOffLoopback).
 *
 * A missing or unknown token is `401 unauthorized`, a known token of too low
 * a scope `403 forbidden`. Tokens are compared as SHA-256 digests in
 * constant time against every token, with no early exit, and never logged.
 * Call it before any route is registered (the API document's too).
 */
export function installAccess(app: FastifyInstance, tokens: AccessTokens): void {
  app.addHook('onRoute', (route) => {
    const declared = route.config?.access
    if (declared === undefined && !DOC_ROUTE.test(route.url)) throw new Error(`route ${route.method.toString()} ${route.url} declares no access (config.access)`)
    const access = declared ?? 'open'
    route.config = { ...route.config, access }
    // The API document says which routes need a token (@fastify/swagger reads schema.security).
    if (access !== 'open' && route.schema) {
      const refusals = errorResponses(...(access === 'read' ? ['unauthorized' as const] : ['unauthorized' as const, 'forbidden' as const]))
      route.schema = { ...route.schema, security: [{ bearer: [] }], response: { ...(route.schema.response as object | undefined), ...refusals } }
    }
  })
  if (tokens.length === 0) return

  const digests = tokens.map((t) => ({ scope: t.scope, digest: sha256(t.token) }))
  const scopeOf = new WeakMap<FastifyRequest, Scope>()
  void app.register(bearerAuth, {
    keys: [],
    addHook: false,
    // It would log through fastify's logger only when that has own methods (pino's are inherited): we log the refusals.
    auth: (key, request) => {
      const scope = lookup(digests, key)
      if (scope !== undefined) scopeOf.set(request, scope)
      return scope !== undefined
    },
  })
  app.addHook('onRequest', (request, reply, done) => {
    const needed = request.routeOptions.config.access ?? 'open' // a 404 has no route, hence no access
    if (needed === 'open') {
      done()
      return
    }
    app.verifyBearerAuth!(request, reply, (err) => {
      if (err) {
        // err.message is "missing authorization header" or "invalid authorization header": never the token.
        request.log.warn({ method: request.method, url: request.routeOptions.url, reason: err.message }, 'request refused: unauthorized')
        void reply.header('www-authenticate', 'Bearer')
        done(new CodedError('unauthorized', 'a bearer token is required: Authorization: Bearer <token> (missing or unknown token)'))
        return
      }
      const scope = scopeOf.get(request)!
      if (SCOPE_RANK[scope] < SCOPE_RANK[needed]) request.log.warn({ method: request.method, url: request.routeOptions.url, scope, needed }, 'request refused: forbidden (scope too low)')
      done(SCOPE_RANK[scope] < SCOPE_RANK[needed] ? new CodedError('forbidden', `this route needs a ${needed} token; the token sent has scope ${scope}`) : undefined)
    })
  })
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** The scope of the token whose digest matches: every digest compared, equal lengths, no early exit. */
function lookup(digests: readonly { scope: Scope; digest: Buffer }[], key: string): Scope | undefined {
  const d = sha256(key)
  let found: Scope | undefined
  for (const t of digests) {
    if (timingSafeEqual(t.digest, d)) found = t.scope
  }
  return found
}
