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
import { AcceptorNetwork } from './acceptor-network.ts'
import { ParticipantMetrics } from './metrics.ts'
import { recoverReplica } from './recovery.ts'
import { TraceRing } from '../../shared/io/trace/trace-ring.ts'

async function main(): Promise<void> {
  const config = loadParticipantConfig(process.env)
  const failpoints = new Failpoints(config.failpoints)
  const logger = createLogger(config.id, config.logLevel)
  if (failpoints.active) logger.warn({ failpoints: config.failpoints }, 'failpoints armed')

  const store = new LevelStore(config.dataDir, failpoints, config.applyLingerMs)
  const metrics = new ParticipantMetrics(config.id, store)
  await store.open()
  const replica = await recoverReplica(store)

  const machine = new ParticipantMachine({
    readWaitMs: config.readWaitMs,
    sweepIntervalMs: config.sweepIntervalMs,
    queryAfterMs: config.queryAfterMs,
    retentionMs: config.retentionMs,
    maxRemembered: config.maxRemembered,
    checkInvariants: config.checkInvariants,
    coordinators: config.coordinators,
    ...(config.commitProtocol === 'paxos-commit'
      ? { protocol: 'paxos-commit' as const, name: config.id, participants: config.peers.map((p) => p.name), recoveryAfterMs: config.recoveryAfterMs }
      : {}),
  })
  const driver = new ParticipantDriver(machine, store, failpoints, logger, new TraceRing(config.traceTxns))
  driver.dispatch({ type: 'start', ...replica })
  if (replica.prepared.length > 0) logger.warn({ inDoubt: replica.prepared.length }, 'in-doubt transactions after restart; waiting for the coordinator')

  const peer = new PeerServer(config.id, config.token, config.coordinators, {
    connected: (coordinator) => { driver.dispatch({ type: 'connected', coordinator }) },
    disconnected: (coordinator) => { driver.dispatch({ type: 'disconnected', coordinator }) },
    message: (msg, coordinator) => { driver.onMessage(msg, coordinator) },
  }, logger)
  driver.sender = (to, msg) => peer.send(to, msg)

  // Paxos Commit: this node's acceptor endpoint, and a link to every other participant's.
  const paxos = config.commitProtocol === 'paxos-commit' ? new AcceptorNetwork(config.id, config.peers, config.token, (msg) => { driver.onMessage(msg) }, logger, config.tls) : undefined
  if (paxos) driver.peerSender = (to, msg) => paxos.send(to, msg)

  metrics.watch(driver, peer, paxos)
  const app = buildParticipantApp({ id: config.id, driver, store, peer, logger, metrics, access: config.access, tls: config.tls, ...(paxos ? { paxos } : {}) })
  peer.attach(app.server, paxos?.upgrades, config.tls !== undefined)
  app.addHook('onClose', async () => {
    driver.stop()
    peer.close()
    paxos?.close()
    await store.close()
  })
  await app.listen({ host: config.host, port: config.port })
  paxos?.start()
  const address = app.server.address()
  logger.info({ port: typeof address === 'object' && address ? address.port : config.port, keys: replica.entries.length, protocol: config.commitProtocol }, 'participant listening')

  closeOnSignals(app, logger)
}

runMain(main)
