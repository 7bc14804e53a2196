import t from 'tap'
import { apiErrors } from '../../shared/core/api-errors.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { parseAccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import { startLocalChaos } from '../../scripts/lib/local-chaos.ts'
import { ChaosClient } from '../../scripts/lib/chaos-client.ts'
import { probe } from '../../scripts/lib/local-cluster.ts'
import { http, startCluster } from '../helpers/cluster.ts'
import { nodeLogText } from '../helpers/node-log.ts'

/**
 * Who may do what, against real nodes started with CLIENT_TOKENS and
 * ADMIN_TOKEN: a missing or unknown bearer token is 401, a known token of too
 * low a scope 403, each with the catalogue's body; scopes nest (read < write
 * < admin); health, readiness, metrics and the API document stay open; no
 * token ever reaches a log.
 */

const READ = 'reader-token-0123456789'
const WRITE = 'writer-token-0123456789'
const ADMIN = 'admin-token-0123456789ab'
const WRONG = 'nobodys-token-0123456789'
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('client and admin tokens: 401 without or with an unknown token, 403 with too low a scope, the route with enough', async (t) => {
  const cluster = await startCluster(t, { env: { CLIENT_TOKENS: `read:${READ},write:${WRITE}`, ADMIN_TOKEN: ADMIN } })
  const c = cluster.url
  const txn = { writes: [{ key: 'access/k', value: 'v' }] }

  const missing = await http(`${c}/v1/transactions`, { body: txn })
  t.equal(missing.status, 401, 'a transaction without a token: 401')
  t.same(missing.body, { error: 'unauthorized', message: 'a bearer token is required: Authorization: Bearer <token> (missing or unknown token)' }, 'with the catalogue\'s code')
  t.equal(missing.headers.get('www-authenticate'), 'Bearer', 'and says which scheme (RFC 6750)')
  t.equal((await http(`${c}/v1/transactions`, { body: txn, headers: bearer(WRONG) })).status, 401, 'an unknown token: 401')
  t.equal((await http(`${c}/v1/transactions`, { body: txn, headers: { authorization: `Basic ${WRITE}` } })).status, 401, 'a known token in another scheme: 401')
  const readOnly = await http(`${c}/v1/transactions`, { body: txn, headers: bearer(READ) })
  t.equal(readOnly.status, 403, 'a read token may not write: 403')
  t.same(readOnly.body, { error: 'forbidden', message: 'this route needs a write token; the token sent has scope read' }, 'with the catalogue\'s code and the scopes')
  t.equal(apiErrors.forbidden.statusCode, 403, 'forbidden is in the catalogue')

  const written = await http<{ outcome: string }>(`${c}/v1/transactions`, { body: txn, headers: bearer(WRITE) })
  t.match({ status: written.status, outcome: written.body.outcome }, { status: 200, outcome: 'committed' }, 'a write token commits')
  t.equal((await http(`${c}/v1/transactions`, { body: { writes: [{ key: 'access/k2', value: 'v' }] }, headers: bearer(ADMIN) })).status, 200, 'so does the admin token (admin includes write)')

  t.equal((await http(`${c}/v1/keys/access%2Fk`)).status, 401, 'a read without a token: 401')
  t.match((await http(`${c}/v1/keys/access%2Fk`, { headers: bearer(READ) })).body, { key: 'access/k', value: 'v', version: 1 }, 'a read token reads')
  t.equal((await http(`${c}/v1/keys/access%2Fk`, { headers: bearer(WRITE) })).status, 200, 'so does a write token')
  t.equal((await http(`${c}/v1/transactions?id=nobody`, { headers: bearer(READ) })).status, 404, 'a status lookup with a read token gets past the guard (404: no such id)')
  t.equal((await http(`${c}/v1/transactions?id=nobody`)).status, 401, 'and without a token it does not')

  t.equal((await http(`${c}/v1/status`, { headers: bearer(WRITE) })).status, 403, 'the coordinator\'s status needs the admin token: a write token gets 403')
  t.match((await http(`${c}/v1/status`, { headers: bearer(ADMIN) })).body, { coordinator: 'coordinator' }, 'the admin token gets it')

  for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs/json', '/docs/static/index.html']) {
    t.equal(await probe(`${c}${path}`), 200, `${path} stays open`)
  }
  t.equal((await http(`${c}/no/such/route`)).status, 404, 'an unknown route is still 404, not 401')

  for (const p of cluster.participantNames) {
    const u = cluster.urlOf(p)
    for (const path of ['/v1/replica', '/v1/in-doubt', '/v1/status']) {
      t.equal((await http(`${u}${path}`)).status, 401, `${p} ${path} without a token: 401`)
      t.equal((await http(`${u}${path}`, { headers: bearer(WRITE) })).status, 401, `${p} ${path} with a client token: 401 (a participant knows only ADMIN_TOKEN)`)
      t.equal((await http(`${u}${path}`, { headers: bearer(ADMIN) })).status, 200, `${p} ${path} with the admin token: 200`)
    }
    t.equal((await http(`${u}/readyz`)).status, 200, `${p} /readyz stays open`)
    t.match((await http<{ entries: Record<string, unknown> }>(`${u}/v1/replica`, { headers: bearer(ADMIN) })).body.entries, { 'access/k': { value: 'v', version: 1 } }, `${p} holds the commit`)
  }

  // The API document says which routes need a token, and that they may answer 401/403.
  const doc = (await http<{ components: { securitySchemes: Record<string, unknown> }; paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>> }>(`${c}/openapi.json`)).body
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: 'CLIENT_TOKENS (read or write) or ADMIN_TOKEN' }, 'a bearer scheme')
  t.same(doc.paths['/v1/transactions']!.post!.security, [{ bearer: [] }], 'POST /v1/transactions needs it')
  t.ok(doc.paths['/v1/transactions']!.post!.responses['401'] && doc.paths['/v1/transactions']!.post!.responses['403'], 'and documents 401 and 403')
  t.ok(doc.paths['/v1/keys/{key}']!.get!.responses['401'] && !doc.paths['/v1/keys/{key}']!.get!.responses['403'], 'a read route documents 401 only (no scope is lower than read)')
  t.equal(doc.paths['/healthz']!.get!.security, undefined, '/healthz needs none')

  // Never a token in a log, though every refusal above was logged.
  for (const name of [...cluster.coordinatorNames, ...cluster.participantNames]) {
    const log = nodeLogText(cluster.options.dataRoot, name)
    for (const token of [READ, WRITE, ADMIN, WRONG]) t.notOk(log.includes(token), `${name}'s log holds no token (${token.slice(0, 6)}…)`)
  }
  const coordinatorLog = nodeLogText(cluster.options.dataRoot, 'coordinator')
  t.match(coordinatorLog, /"reason":"missing authorization header","msg":"request refused: unauthorized"/, 'the coordinator logged the refusals: a missing token')
  t.match(coordinatorLog, /"reason":"invalid authorization header","msg":"request refused: unauthorized"/, 'an unknown one')
  t.match(coordinatorLog, /"scope":"read","needed":"write","msg":"request refused: forbidden \(scope too low\)"/, 'and a scope too low')
})

t.test('the chaos API needs the admin token: 401 without it, every fault action with it', async (t) => {
  const cluster = await startCluster(t, { participants: 2 })
  const chaos = await startLocalChaos(cluster, createLogger('chaos', 'silent'), 0, '127.0.0.1', parseAccessTokens('', ADMIN))
  t.teardown(async () => chaos.close())
  t.equal((await http(`${chaos.url}/v1/faults`)).status, 401, 'GET /v1/faults without a token: 401')
  t.equal((await http(`${chaos.url}/v1/faults`, { body: { kind: 'pause', node: 'p1', durationMs: 100 } })).status, 401, 'POST /v1/faults without a token: 401')
  t.equal((await http(`${chaos.url}/v1/faults`, { body: { kind: 'pause', node: 'p1', durationMs: 100 }, headers: bearer(WRONG) })).status, 401, 'with a wrong one: 401')
  t.equal((await http(`${chaos.url}/healthz`)).status, 200, '/healthz stays open')
  await t.rejects(new ChaosClient(chaos.url, {}).nodes(), /unauthorized/, 'the scripts\' client without ADMIN_TOKEN is refused')
  const client = new ChaosClient(chaos.url, bearer(ADMIN))
  t.same((await client.nodes()).map((n) => n.name), ['coordinator', 'p1', 'p2'], 'with it, the nodes')
  const fault = await client.inject({ kind: 'pause', node: 'p1', durationMs: 60000 })
  t.match(await client.faults(), { active: [{ id: fault.id, node: 'p1' }] }, 'a fault injected and listed')
  await client.heal(fault.id)
  t.same((await client.faults()).active, [], 'and healed')
  t.equal(cluster.isRunning('p1'), true, 'p1 runs')
})
