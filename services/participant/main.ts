import { ParticipantMachine } from '../../shared/core/participant/machine.ts'
import { runMain } from '../../shared/io/runtime/run-main.ts'
import { closeOnSignals } from '../../shared/io/runtime/shutdown.ts'
import { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { LevelStore } from '../../shared/io/storage/level-store.ts'
import { checkDataDirPlacement } from '../../shared/io/storage/data-dir.ts'
import { buildParticipantApp } from './app.ts'
import { loadParticipantConfig } from './config.ts'
import { ParticipantDriver } from './driver.ts'
import { PeerServer } from './peer-server.ts'
import { AcceptorNetwork } from './acceptor-network.ts'
import { ParticipantMetrics } from './metrics.ts'
import { recoverReplica } from './recovery.ts'
import { loadReplicaIdentity, markAdmitted } from '../../shared/io/storage/replica-identity.ts'

/** The exit code of a participant that refused to join with an empty replica (sysexits' EX_CONFIG). */
const REFUSED_EXIT_CODE = 78
import { TraceRing } from '../../shared/io/trace/trace-ring.ts'

async function main(): Promise<void> {
  const config = loadParticipantConfig(process.env)
  const failpoints = new Failpoints(config.failpoints)
  const logger = createLogger(config.id, config.logLevel)
  if (failpoints.active) logger.warn({ failpoints: config.failpoints }, 'failpoints armed')

  checkDataDirPlacement(config.dataDir)
  const store = new LevelStore(config.dataDir, failpoints, config.applyLingerMs)
  const metrics = new ParticipantMetrics(config.id, store)
  await store.open()
  let identity = await loadReplicaIdentity(store)
  const replica = await recoverReplica(store, config.cacheMb > 0 ? { maxBytes: config.cacheMb * 1024 * 1024, approximateBytes: (prefix) => store.approximateBytes(prefix) } : undefined)
  logger.info({ replica: identity.id, origin: identity.origin, admitted: identity.admitted }, 'replica identity')

  const machine = new ParticipantMachine({
    readWaitMs: config.readWaitMs,
    sweepIntervalMs: config.sweepIntervalMs,
    queryAfterMs: config.queryAfterMs,
    retentionMs: config.retentionMs,
    maxRemembered: config.maxRemembered,
    checkInvariants: config.checkInvariants,
    // CACHE_MB=0: the whole replica in memory, as before the cache.
    ...(config.cacheMb > 0 ? { cacheBytes: config.cacheMb * 1024 * 1024 } : {}),
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
    admission: (msg, coordinator) => {
      if (msg.admitted) {
        if (!identity.admitted) {
          markAdmitted(store, identity).then(
            (admitted) => { identity = admitted; logger.info({ coordinator, replica: identity.id }, 'replica admitted') },
            // The store closing (another coordinator refused this replica): the refusal decides.
            (err: unknown) => { logger.warn({ err, coordinator }, 'could not record the admission') },
          )
        }
        return
      }
      // The coordinator knows another replica under this name: this one is empty because its data was lost.
      // Joining would make it differ from every other replica, so this node stops, and says how to rebuild it.
      logger.fatal({ coordinator, code: 'replica_unknown', replica: identity.id, dataDir: config.dataDir, reason: msg.reason }, `refusing to start: coordinator ${coordinator} knows another replica of ${config.id}, and ${config.dataDir} holds a new, empty one. Rebuild it from a live participant: npm run replica -- rebuild ${config.id} --from <participant> (see README, "Rebuilding a lost replica")`)
      void app.close().finally(() => { process.exit(REFUSED_EXIT_CODE) })
    },
  }, logger)
  peer.replica = { id: identity.id, origin: identity.origin }
  driver.sender = (to, msg) => peer.send(to, msg)

  // Paxos Commit: this node's acceptor endpoint, and a link to every other participant's.
  const paxos = config.commitProtocol === 'paxos-commit' ? new AcceptorNetwork(config.id, config.peers, config.token, (msg) => { driver.onMessage(msg) }, logger, config.tls, () => identity.admitted) : undefined
  if (paxos) driver.peerSender = (to, msg) => paxos.send(to, msg)

  metrics.watch(driver, peer, paxos)
  const app = buildParticipantApp({ id: config.id, driver, store, peer, logger, metrics, access: config.access, tls: config.tls, snapshot: (prefixes) => store.snapshot(prefixes), failpoints, ...(paxos ? { paxos } : {}) })
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
  logger.info({ port: typeof address === 'object' && address ? address.port : config.port, keys: replica.entries.length, protocol: config.commitProtocol, cacheMb: config.cacheMb, ...(config.cacheMb > 0 ? { cacheHoldsWholeReplica: replica.complete === true } : {}) }, 'participant listening')

  closeOnSignals(app, logger)
}

runMain(main)
