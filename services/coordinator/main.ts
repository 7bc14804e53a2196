import { CoordinatorMachine } from '../../shared/core/coordinator/machine.ts'
import { runMain } from '../../shared/io/runtime/run-main.ts'
import { closeOnSignals } from '../../shared/io/runtime/shutdown.ts'
import { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { LevelStore } from '../../shared/io/storage/level-store.ts'
import { checkDataDirPlacement } from '../../shared/io/storage/data-dir.ts'
import { admitReplica } from '../../shared/io/storage/replica-identity.ts'
import { buildCoordinatorApp } from './app.ts'
import { loadCoordinatorConfig } from './config.ts'
import { CoordinatorDriver } from './driver.ts'
import { CoordinatorMetrics } from './metrics.ts'
import { ParticipantLink } from '../../shared/io/net/participant-link.ts'
import { recoverCoordinatorLog } from './recovery.ts'
import { TraceRing } from '../../shared/io/trace/trace-ring.ts'

/** Where a participant's peer endpoint lives when the URL gives no path, and which coordinator dials it. */
function peerUrl(url: string, coordinator: string): string {
  const u = new URL(url)
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/peer'
  u.searchParams.set('coordinator', coordinator)
  return u.toString()
}

async function main(): Promise<void> {
  const config = loadCoordinatorConfig(process.env)
  const failpoints = new Failpoints(config.failpoints)
  const logger = createLogger(config.id, config.logLevel)
  if (failpoints.active) logger.warn({ failpoints: config.failpoints }, 'failpoints armed')

  checkDataDirPlacement(config.dataDir)
  const store = new LevelStore(config.dataDir, failpoints)
  const metrics = new CoordinatorMetrics(config.id, store)
  await store.open()
  const log = await recoverCoordinatorLog(store, Date.now())

  const machine = new CoordinatorMachine({
    name: config.id,
    coordinators: config.coordinators,
    // A client id is claimed in the replicas themselves: a retry at any coordinator never runs it twice.
    clientIdClaims: true,
    participants: config.participants.map((p) => p.name),
    defaultTimeoutMs: config.voteTimeoutMs,
    maxInFlight: config.maxInFlight,
    retentionMs: config.retentionMs,
    gcIntervalMs: config.gcIntervalMs,
    checkInvariants: config.checkInvariants,
    readTimeoutMs: config.readTimeoutMs,
    protocol: config.commitProtocol,
  })
  const driver = new CoordinatorDriver(machine, store, failpoints, logger, new TraceRing(config.traceTxns))
  driver.dispatch({ type: 'start', ...log })

  const links = config.participants.map(
    (p) =>
      new ParticipantLink(p.name, peerUrl(p.url, config.id), config.token, {
        connected: (name) => { driver.onConnected(name) },
        disconnected: (name) => { driver.onDisconnected(name) },
        message: (name, msg) => { driver.onMessage(name, msg) },
        admit: (name, replica) => admitReplica(store, name, replica, config.participants.find((other) => other.name !== name)?.name ?? '<a live participant>'),
      }, logger, config.tls ? { tls: config.tls } : {}),
  )
  driver.attach(links)

  metrics.watch(driver, links)
  const app = buildCoordinatorApp({ config, driver, store, logger, metrics })
  app.addHook('onClose', async () => {
    driver.stop()
    for (const link of links) link.close()
    await store.close()
  })
  for (const link of links) link.start()
  const address = await app.listen({ host: config.host, port: config.port })
  const bound = app.server.address()
  logger.info({ address, port: typeof bound === 'object' && bound ? bound.port : config.port, coordinator: config.id, epoch: log.epoch, protocol: config.commitProtocol }, 'coordinator listening')

  closeOnSignals(app, logger)
}

runMain(main)
