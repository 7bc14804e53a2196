import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Value } from 'typebox/value'
import type { TSchema } from 'typebox'
import { ChaosClient } from '../../scripts/lib/chaos-client.ts'
import { startLocalChaos } from '../../scripts/lib/local-chaos.ts'
import { repoRoot } from '../../scripts/lib/local-cluster.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { http, startCluster, submit } from '../helpers/cluster.ts'

interface Operation {
  summary?: string
  tags?: string[]
  responses: Record<string, { description?: string; content?: Record<string, { schema: TSchema }> }>
  parameters?: unknown[]
  requestBody?: unknown
}
interface OpenApi {
  openapi: string
  info: { title: string }
  paths: Record<string, Record<string, Operation>>
}

const METHODS = ['get', 'post', 'put', 'delete']

/** "GET /v1/transactions/{txId}" for every operation of a document. */
const operationsOf = (doc: OpenApi): string[] => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`)).sort()

/** The routes a README table lists (first column, `METHOD /path` in backticks; WebSocket endpoints left out), as OpenAPI writes them. */
function readmeTable(readme: string, heading: string): string[] {
  const start = readme.indexOf(heading)
  const lines = readme.slice(start).split('\n')
  const table = lines.slice(lines.findIndex((l) => l.startsWith('|'))).filter((_, i, all) => all.slice(0, i + 1).every((l) => l.startsWith('|')))
  return table
    .filter((row) => !row.includes('(WebSocket)'))
    .flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`(GET|POST|PUT|DELETE) (\/[^`?]*)(?:\?[^`]*)?`/g)].map((m) => `${m[1]!} ${m[2]!.replace(/:(\w+)/g, '{$1}')}`))
    .sort()
}

/** Every route of fastify's printRoutes tree, as "METHOD /path" (HEAD left out): each line's segment joined to its parents'. */
function routesOf(tree: string): string[] {
  const parents: string[] = []
  const routes: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)/.exec(line)
    if (!m) continue
    parents.length = m[1]!.length / 4
    parents.push(m[2]!)
    const path = parents.join('').replace(/:(\w+)/g, '{$1}')
    for (const verb of m[3]!.split(', ')) if (verb !== 'HEAD') routes.push(`${verb} ${path}`)
  }
  return routes
}

t.test('every node serves its OpenAPI 3 document and a browsable page; every route has a summary and its answers, the README tables list the same routes, and real answers fit the documented schemas', async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'warn' }, partitionable: true })
  const chaos = await startLocalChaos(cluster, createLogger('chaos', 'silent'))
  t.teardown(async () => { await chaos.close() })
  t.equal((await submit(cluster, [{ key: 'doc/k', value: 'v' }], { id: 'doc-1' })).body.outcome, 'committed')
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
  const nodes = [
    { name: 'coordinator', url: cluster.url, table: 'Coordinator (default' },
    { name: 'p1', url: cluster.urlOf('p1'), table: 'Participants (each' },
    { name: 'chaos', url: chaos.url, table: 'Endpoint (chaos API' },
  ]
  for (const node of nodes) {
    const res = await http<OpenApi>(`${node.url}/openapi.json`)
    t.equal(res.status, 200, `${node.name}: /openapi.json`)
    const doc = res.body
    t.equal(doc.openapi, '3.0.3', `${node.name}: OpenAPI 3`)
    const ops = operationsOf(doc)
    // Health probes are listed once in the README (coordinator table); every other route is in its node's table.
    const listed = new Set([...readmeTable(readme, node.table), 'GET /healthz', 'GET /readyz'].filter((op) => node.name !== 'chaos' || op !== 'GET /readyz'))
    t.same(ops.filter((op) => !listed.has(op)), [], `${node.name}: every documented route is in the README's table`)
    t.same([...listed].filter((op) => !ops.includes(op)), [], `${node.name}: every route of the README's table is in the document`)
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!METHODS.includes(method)) continue
        const name = `${node.name} ${method.toUpperCase()} ${path}`
        t.ok(typeof op.summary === 'string' && op.summary.length > 0, `${name}: a summary`)
        t.ok(op.tags !== undefined && op.tags.length > 0, `${name}: a tag`)
        t.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${name}: its success answer`)
        if (op.requestBody !== undefined || (op.parameters?.length ?? 0) > 0) t.ok('400' in op.responses, `${name}: takes input, so its 400 is documented`)
        for (const [status, response] of Object.entries(op.responses)) {
          if (!status.startsWith('4') && !status.startsWith('5')) continue
          const schema = response.content?.['application/json']?.schema as { properties?: { error?: { anyOf?: { enum?: string[] }[] } } } | undefined
          // A few answers have bodies of their own (/readyz's "not ready", a heal that partly failed), and say so.
          if (response.description?.includes('not a catalogue error') === true) continue
          t.ok(schema?.properties?.error !== undefined, `${name}: its ${status} is a catalogue error body`)
        }
      }
    }
    // What the routes without parameters really answer fits what the document says they answer.
    for (const [path, methods] of Object.entries(doc.paths)) {
      const schema = methods.get?.responses['200']?.content?.['application/json']?.schema
      if (path.includes('{') || schema === undefined || (methods.get?.parameters?.length ?? 0) > 0) continue
      const real = await http(`${node.url}${path}`)
      t.ok(Value.Check(schema, real.body), `${node.name} GET ${path}: the answer fits its documented schema${Value.Check(schema, real.body) ? '' : `: ${JSON.stringify([...Value.Errors(schema, real.body)].slice(0, 3))}`}`)
    }
    const page = await fetch(`${node.url}/docs/`)
    const html = await page.text()
    t.equal(page.status, 200, `${node.name}: /docs`)
    t.match(html, /swagger-ui/, `${node.name}: the Swagger UI page`)
    t.notMatch(html, /(src|href)="https?:\/\//, `${node.name}: its assets come from the node, not from outside`)
  }

  const coordinator = (await http<OpenApi>(`${cluster.url}/openapi.json`)).body
  const post = coordinator.paths['/v1/transactions']!.post!
  t.same(Object.keys(post.responses).sort(), ['200', '400', '401', '403', '409', '413', '415', '503'], 'POST /v1/transactions: the outcome, and its errors by status (401 and 403: it needs a write token when tokens are set)')
  const busy = post.responses['503']!.content!['application/json']!.schema as { properties: { error: { anyOf: { enum: string[] }[] } } }
  t.same(busy.properties.error.anyOf.map((c) => c.enum[0]).sort(), ['id_in_doubt', 'no_replica', 'overloaded'], 'its 503s, by catalogue code')
  const txn = await http(`${cluster.url}/v1/transactions?id=doc-1`)
  t.ok(Value.Check(coordinator.paths['/v1/transactions']!.get!.responses['200']!.content!['application/json']!.schema, txn.body), 'a status lookup fits its schema')

  // The chaos sidecar runs in this process: every route it registered, as fastify lists them, is documented.
  const registered = routesOf(chaos.app.printRoutes({ commonPrefix: false }))
  const chaosOps = operationsOf((await http<OpenApi>(`${chaos.url}/openapi.json`)).body)
  t.ok(registered.includes('DELETE /v1/faults/{id}') && registered.length >= 10, `fastify lists its routes: ${registered.join(', ')}`)
  t.same(registered.filter((op) => !op.startsWith('GET /docs') && op !== 'GET /openapi.json' && !chaosOps.includes(op)), [], 'chaos: no registered route is missing from the document')
  t.ok(new ChaosClient(chaos.url), 'and the client the scripts use still talks to it')
  t.match((await http(`${chaos.url}/v1/nodes`)).body, { nodes: [{ name: 'coordinator' }] })
})
