import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { createJsonApp } from '../../shared/io/http/json-app.ts'
import { keyedObject } from '../../shared/core/protocol/keyed-object.ts'
import { entryKey } from '../../shared/core/record-keys.ts'
import { claimKey, isReservedKey } from '../../shared/core/protocol/client-id-claim.ts'
import type { Entry } from '../../shared/core/protocol/types.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { Store } from '../../shared/core/store.ts'
import type { ParticipantDriver } from './driver.ts'
import type { PeerServer } from './peer-server.ts'
import type { AcceptorNetwork } from './acceptor-network.ts'
import type { ParticipantMetrics } from './metrics.ts'

export interface ParticipantAppDeps {
  id: string
  driver: ParticipantDriver
  store: Store
  peer: PeerServer
  logger: Logger
  /** Paxos Commit: the acceptor endpoint, and the links this node dialled to the other participants. */
  paxos?: Pick<AcceptorNetwork, 'acceptor' | 'links'>
  /** GET /metrics and the counts behind it (absent: no /metrics). */
  metrics?: ParticipantMetrics
}

/** Health, readiness and inspection endpoints of a participant; the peer socket shares this port. */
export function buildParticipantApp({ id, driver, store, peer, logger, paxos, metrics }: ParticipantAppDeps): FastifyInstance {
  const app = createJsonApp(logger)
  metrics?.install(app)

  app.get('/healthz', async () => ({ status: 'ok', participant: id }))
  app.get('/readyz', async (_request, reply) => {
    const ready = store.isOpen && driver.machine.status().started
    return reply.code(ready ? 200 : 503).send({ ready, participant: id, coordinatorConnected: peer.isConnected })
  })

  // The replica as stored on disk (not the in-memory copy): what a crash would leave.
  app.get(
    '/v1/replica',
    { schema: { querystring: Type.Object({ prefix: Type.String({ default: '', maxLength: 512 }) }, { additionalProperties: false }) } },
    async (request) => {
      // Read the in-memory state before the disk: "nothing prepared" then implies every apply is on disk.
      const { prepared, locks } = driver.machine.status()
      const prefix = entryKey(request.query.prefix)
      const entries = keyedObject<Entry>()
      // Client ids' claims (client-id-claim.ts) apart: no client wrote them.
      const reserved = keyedObject<Entry>()
      // A prefix selects client ids under it too (a chaos run tags its keys and its ids alike).
      const claims = request.query.prefix === '' ? [] : await store.scan(entryKey(claimKey(request.query.prefix)))
      for (const [key, value] of [...(await store.scan(prefix)), ...claims]) {
        const name = key.slice(entryKey('').length)
        if (isReservedKey(name)) reserved[name] = value as Entry
        else entries[name] = value as Entry
      }
      return { participant: id, entries, reserved, prepared, locks }
    },
  )

  app.get('/v1/in-doubt', async () => {
    const inDoubt = driver.machine.inDoubt(Date.now())
    return { participant: id, coordinatorConnected: peer.isConnected, count: inDoubt.length, transactions: inDoubt }
  })

  app.get('/v1/status', async () => {
    const s = driver.machine.status()
    const status = { participant: id, keys: s.keys, prepared: s.prepared.length, locks: s.locks, remembered: s.remembered, refusedFrames: peer.refusedFrames, refusedMessages: peer.refusedMessages, refusedConnections: peer.refusedConnections, store: store.stats }
    if (!paxos) return status
    const { acceptor, links } = paxos
    const peers = keyedObject<{ connected: boolean }>()
    for (const [name, link] of links) peers[name] = { connected: link.isConnected }
    return { ...status, acceptor: { connections: acceptor.connected, refusedFrames: acceptor.refusedFrames, refusedMessages: acceptor.refusedMessages, refusedConnections: acceptor.refusedConnections }, peers }
  })
  return app
}
