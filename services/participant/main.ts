import { ParticipantMachine } from '../../shared/core/participant/machine.ts'
import { runMain } from '../../shared/io/runtime/run-main.ts'
import { closeOnSignals } from '../../shared/io/runtime/shutdown.ts'
import { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { LevelStore } from '../../shared/io/storage/level-store.ts'
import { buildParticipantApp } from './app.ts'
import { loadParticipantConfig } from './config.ts'
import { ParticipantDriver } from './driver.ts'
import { PeerServer } from './peer-server.ts'
import { ACCEPTOR_PATH, AcceptorServer } from './acceptor-server.ts'
import { ParticipantLink } from '../../shared/io/net/participant-link.ts'
import { recoverReplica } from './recovery.ts'

/** A participant's acceptor endpoint, from the URL PEERS gives for it (its HTTP port, any path replaced). */
function acceptorUrl(url: string): string {
  const u = new URL(url)
  u.pathname = ACCEPTOR_PATH
  return u.toString()
}

async function main(): Promise<void> {
  const config = loadParticipantConfig(process.env)
  const failpoints = new Failpoints(config.failpoints)
  const logger = createLogger(config.id, config.logLevel)
  if (failpoints.active) logger.warn({ failpoints: config.failpoints }, 'failpoints armed')

  const store = new LevelStore(config.dataDir, failpoints, config.applyLingerMs)
  await store.open()
  const replica = await recoverReplica(store)

  const machine = new ParticipantMachine({
    readWaitMs: config.readWaitMs,
    sweepIntervalMs: config.sweepIntervalMs,
    queryAfterMs: config.queryAfterMs,
    retentionMs: config.retentionMs,
    maxRemembered: config.maxRemembered,
    checkInvariants: config.checkInvariants,
    ...(config.commitProtocol === 'paxos-commit'
      ? { protocol: 'paxos-commit' as const, name: config.id, participants: config.peers.map((p) => p.name), recoveryAfterMs: config.recoveryAfterMs }
      : {}),
  })
  const driver = new ParticipantDriver(machine, store, failpoints, logger)
  driver.dispatch({ type: 'start', ...replica })
  if (replica.prepared.length > 0) logger.warn({ inDoubt: replica.prepared.length }, 'in-doubt transactions after restart; waiting for the coordinator')

  const peer = new PeerServer(config.id, config.token, {
    connected: () => { driver.dispatch({ type: 'connected' }) },
    disconnected: () => { driver.dispatch({ type: 'disconnected' }) },
    message: (msg) => { driver.onMessage(msg) },
  }, logger)
  driver.sender = (msg) => peer.send(msg)

  // Paxos Commit: this node's acceptor endpoint, and a link to every other participant's.
  const acceptor = new AcceptorServer(config.id, config.token, (msg) => { driver.onMessage(msg) }, logger, { heartbeatMs: 2000, maxConnections: 2 * config.peers.length })
  const peerLinks = new Map(
    config.commitProtocol === 'paxos-commit'
      ? config.peers.filter((p) => p.name !== config.id).map((p) => [p.name, new ParticipantLink(p.name, acceptorUrl(p.url), config.token, {
        connected: () => undefined,
        disconnected: () => undefined,
        message: (name, msg) => { logger.warn({ peer: name, type: msg.type }, 'an acceptor sent a message on the link this node dialled; ignored') },
      }, logger)] as const)
      : [],
  )
  driver.peerSender = (to, msg) => peerLinks.get(to)?.send(msg) ?? false

  const app = buildParticipantApp({ id: config.id, driver, store, peer, logger, ...(config.commitProtocol === 'paxos-commit' ? { paxos: { acceptor, links: peerLinks } } : {}) })
  peer.attach(app.server, config.commitProtocol === 'paxos-commit' ? { [ACCEPTOR_PATH]: acceptor.onUpgrade } : {})
  app.addHook('onClose', async () => {
    driver.stop()
    peer.close()
    acceptor.close()
    for (const link of peerLinks.values()) link.close()
    await store.close()
  })
  await app.listen({ host: config.host, port: config.port })
  for (const link of peerLinks.values()) link.start()
  const address = app.server.address()
  logger.info({ port: typeof address === 'object' && address ? address.port : config.port, keys: replica.entries.length, protocol: config.commitProtocol }, 'participant listening')

  closeOnSignals(app, logger)
}

runMain(main)
