import { runMain } from '../../shared/io/runtime/run-main.ts'
import { closeOnSignals } from '../../shared/io/runtime/shutdown.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { buildChaosApp } from './app.ts'
import { loadChaosConfig } from './config.ts'
import { DockerApi } from './docker-api.ts'
import { DockerTarget } from './docker-target.ts'
import { ChaosEngine } from './engine.ts'
import { RandomSchedule } from './random-schedule.ts'

/** The chaos sidecar of the compose cluster: acts on its own project's containers through the Docker socket. */
async function main(): Promise<void> {
  const config = loadChaosConfig(process.env)
  const logger = createLogger('chaos', config.logLevel)
  const target = await DockerTarget.discover(new DockerApi(config.dockerSocket), config.project)
  const engine = new ChaosEngine(target, logger)
  const schedule = new RandomSchedule(engine, logger)
  const app = buildChaosApp({ engine, schedule, logger, access: config.access, ...(config.tls ? { tls: config.tls } : {}) })
  app.addHook('onClose', async () => {
    schedule.stop()
    engine.close()
  })
  await app.listen({ host: config.host, port: config.port })
  logger.info({ project: target.project, nodes: await engine.nodes() }, 'chaos sidecar listening')
  if (config.scheduleAtStart) schedule.start(config.schedule)

  // Active faults are healed before the API closes: a stopped sidecar leaves no node paused or cut off.
  closeOnSignals({ close: async () => { schedule.stop(); await engine.healAll().finally(() => app.close()) } }, logger)
}

runMain(main)
