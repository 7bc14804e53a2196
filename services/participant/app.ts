import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { answer, errorResponses, registerApiDocs } from '../../shared/io/http/api-docs.ts'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
import { installAccess } from '../../shared/io/http/access.ts'
import type { AccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import type { TlsMaterial } from '../../shared/io/runtime/tls.ts'
import { keyedObject } from '../../shared/core/protocol/keyed-object.ts'
import { entryKey } from '../../shared/core/record-keys.ts'
import { replicaDigest } from '../../shared/io/storage/replica-digest.ts'
import { FLOOR_PREFIX } from '../../shared/core/participant/version-floor.ts'
import { claimKey, isReservedKey } from '../../shared/core/protocol/client-id-claim.ts'
import type { Entry } from '../../shared/core/protocol/types.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { Store } from '../../shared/core/store.ts'
import type { ParticipantDriver } from './driver.ts'
import type { PeerServer } from './peer-server.ts'
import type { AcceptorNetwork } from './acceptor-network.ts'
import type { ParticipantMetrics } from './metrics.ts'
import { registerTraceRoutes } from '../../shared/io/http/trace-routes.ts'
import type { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { exportReplica } from './replica-export.ts'
import type { StoreSnapshot } from '../../shared/io/storage/level-store.ts'
import { CodedError } from '../../shared/core/api-errors.ts'

export interface ParticipantAppDeps {
  id: string
  driver: ParticipantDriver
  store: Store
  peer: PeerServer
  logger: Logger
  /** Paxos Commit: the acceptor endpoint, and the links this node dialled to the other participants. */
  paxos?: Pick<AcceptorNetwork, 'acceptor' | 'links' | 'heldCount' | 'droppedWhileDown'>
  /** GET /metrics and the counts behind it (absent: no /metrics). */
  metrics?: ParticipantMetrics
  /** ADMIN_TOKEN for the inspection endpoints; none: open. */
  access: AccessTokens
  /** HTTPS on the port (the peer endpoints check client certificates). */
  tls?: TlsMaterial | undefined
  /** A snapshot of the store (level-store.ts), for GET /v1/replica/export; absent: no export route. */
  snapshot?: (prefixes: readonly string[]) => StoreSnapshot
  failpoints?: Failpoints
}

/** Health, readiness and inspection endpoints of a participant; the peer socket shares this port. */
export function buildParticipantApp({ id, driver, store, peer, logger, paxos, metrics, access, tls, snapshot, failpoints }: ParticipantAppDeps): FastifyInstance {
  const app = createJsonApp(logger, undefined, tls)
  metrics?.countErrors(app)
  installAccess(app, access)
  registerApiDocs(app, { title: `Participant ${id}`, description: 'Health and inspection: the replica as stored, what is in doubt, counters. Its WebSocket endpoints (/v1/peer for coordinators, /v1/acceptor for the other participants under Paxos Commit) share the port and are not HTTP routes.' })

  // In a plugin, registered after the API document's: its routes are in it.
  void app.register(async (plugin) => {
    const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
    app.get('/healthz', { config: { access: 'open' }, schema: { summary: 'Alive', tags: ['operations'], response: { 200: answer({ status: Type.Literal('ok'), participant: Type.String() }, 'The process answers') } } }, async () => ({ status: 'ok', participant: id }))
    const Ready = answer({ ready: Type.Boolean(), participant: Type.String(), coordinatorConnected: Type.Boolean() }, 'Ready: storage open and recovered')
    app.get('/readyz', { config: { access: 'open' }, schema: { summary: 'Ready: storage open and recovered', tags: ['operations'], response: { 200: Ready, 503: { ...Ready, description: 'Not ready (its own body, not a catalogue error)' } } } }, async (_request, reply) => {
      const ready = store.isOpen && driver.machine.status().started
      return reply.code(ready ? 200 : 503).send({ ready, participant: id, coordinatorConnected: peer.isConnected })
    })

    // The replica as stored on disk (not the in-memory copy): what a crash would leave.
    const Entries = Type.Record(Type.String(), Type.Object({ value: Type.String(), version: Type.Integer() }))
    app.get(
      '/v1/replica',
      {
        config: { access: 'admin' },
        schema: {
          summary: 'The replica as stored in LevelDB (keys under a prefix), to compare replicas',
          tags: ['inspection'],
          querystring: Type.Object({ prefix: Type.String({ default: '', maxLength: 512 }) }, { additionalProperties: false }),
          response: { 200: answer({ participant: Type.String(), entries: Entries, reserved: Entries, prepared: Type.Array(Type.String()), locks: Type.Integer() }, 'Entries by key, client ids\' claims apart (reserved), the transactions prepared and the locks held'), ...errorResponses('bad_request') },
        },
      },
      async (request) => {
        // Read the in-memory state before the disk: "nothing prepared" then implies every apply is on disk.
        const { prepared, locks } = driver.machine.status()
        const prefix = entryKey(request.query.prefix)
        const entries = keyedObject<Entry>()
        // Client ids' claims (client-id-claim.ts) apart: no client wrote them.
        const reserved = keyedObject<Entry>()
        // A prefix selects client ids under it too (a chaos run tags its keys and its ids alike), and every
        // version floor (a key's first version depends on its bucket's floor, whatever its prefix).
        const others = request.query.prefix === '' ? [] : [...(await store.scan(entryKey(claimKey(request.query.prefix)))), ...(await store.scan(entryKey(FLOOR_PREFIX)))]
        for (const [key, value] of [...(await store.scan(prefix)), ...others]) {
          const name = key.slice(entryKey('').length)
          if (isReservedKey(name)) reserved[name] = value as Entry
          else entries[name] = value as Entry
        }
        return { participant: id, entries, reserved, prepared, locks }
      },
    )

    app.get(
      '/v1/replica/digest',
      {
        config: { access: 'admin' },
        schema: {
          summary: 'A SHA-256 digest over every committed entry on disk (keys, values, versions; claims and floors included), to compare replicas without listing them',
          tags: ['inspection'],
          response: { 200: answer({ participant: Type.String(), entries: Type.Integer(), digest: Type.String(), prepared: Type.Array(Type.String()) }, 'The digest, how many entries it covers, and the transactions prepared here when it was taken (with none anywhere, equal digests mean identical replicas)') },
        },
      },
      async () => {
        // As /v1/replica: the in-memory state first, then the disk.
        const { prepared } = driver.machine.status()
        const prefixLength = entryKey('').length
        const entries = (await store.scan(entryKey(''))).map(([key, value]) => [key.slice(prefixLength), value as Entry] as const)
        return { participant: id, ...replicaDigest(entries), prepared }
      },
    )

    if (snapshot) {
      app.get(
        '/v1/replica/export',
        {
          config: { access: 'admin' },
          schema: {
            summary: 'The replica as NDJSON, for rebuilding a lost one (npm run replica -- rebuild): a header line, one [key, record] line per committed entry and resolved marker, and a trailer with the digest',
            tags: ['inspection'],
            querystring: Type.Object({ waitMs: Type.String({ pattern: '^[0-9]{1,5}$', default: '5000', description: 'How long to wait for a moment with nothing prepared here (ms, at most 99999)' }) }, { additionalProperties: false }),
            response: { 200: { description: 'application/x-ndjson: the header, the records in key order, the trailer ({ end, records, entries, digest })', type: 'string' }, ...errorResponses('bad_request', 'replica_busy') },
          },
        },
        async (request, reply) => {
          const stream = await exportReplica({ participant: id, preparedCount: () => driver.machine.status().prepared.length, snapshot, failpoints }, Number(request.query.waitMs))
          if (stream === undefined) throw new CodedError('replica_busy', `a transaction stayed prepared on ${id} for ${request.query.waitMs} ms: no consistent copy to export; retry`)
          logger.info({ remote: request.ip }, 'exporting the replica')
          // A stream: fastify sends it as it is (no response schema applies).
          return reply.type('application/x-ndjson').send(stream as unknown as string)
        },
      )
    }

    const InDoubt = answer({ participant: Type.String(), coordinatorConnected: Type.Boolean(), count: Type.Integer(), transactions: Type.Array(answer({ txId: Type.String(), ageMs: Type.Number(), keys: Type.Array(Type.String()), phase: Type.String() }, 'A transaction waiting for its outcome; under Paxos Commit, who leads its recovery at which ballot')) }, 'Prepared transactions waiting for their outcome')
    app.get('/v1/in-doubt', { config: { access: 'admin' }, schema: { summary: 'Transactions in doubt here, with their age and recovery', tags: ['inspection'], response: { 200: InDoubt } } }, async () => {
      const inDoubt = driver.machine.inDoubt(Date.now())
      return { participant: id, coordinatorConnected: peer.isConnected, count: inDoubt.length, transactions: inDoubt }
    })

    const Status = answer({ participant: Type.String(), keys: Type.Integer(), prepared: Type.Integer(), locks: Type.Integer(), remembered: Type.Integer(), refusedFrames: Type.Integer(), refusedMessages: Type.Integer(), refusedConnections: Type.Integer(), store: Type.Object({}), cache: Type.Optional(Type.Object({})) }, 'Counters; under Paxos Commit also the acceptor endpoint\'s and the peer links\'')
    app.get('/v1/status', { config: { access: 'admin' }, schema: { summary: 'The participant\'s counters', tags: ['inspection'], response: { 200: Status } } }, async () => {
      const s = driver.machine.status()
      const status = { participant: id, keys: s.keys, prepared: s.prepared.length, locks: s.locks, remembered: s.remembered, refusedFrames: peer.refusedFrames, refusedMessages: peer.refusedMessages, refusedConnections: peer.refusedConnections, store: store.stats, ...(s.cache ? { cache: s.cache } : {}) }
      if (!paxos) return status
      const { acceptor, links, heldCount, droppedWhileDown } = paxos
      const peers = keyedObject<{ connected: boolean }>()
      for (const [name, link] of links) peers[name] = { connected: link.isConnected }
      return { ...status, acceptor: { connections: acceptor.connected, refusedFrames: acceptor.refusedFrames, refusedMessages: acceptor.refusedMessages, refusedConnections: acceptor.refusedConnections }, peers, held: heldCount, droppedWhileDown }
    })
    metrics?.route(app)
    registerTraceRoutes(app, { name: id, role: 'participant' }, driver.trace)
  })
  return app
}
