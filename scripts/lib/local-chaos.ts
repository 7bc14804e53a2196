import type { FastifyInstance } from 'fastify'
import { buildChaosApp } from '../../services/chaos/app.ts'
import { ChaosEngine } from '../../services/chaos/engine.ts'
import type { ClusterNode, ClusterTarget } from '../../services/chaos/faults.ts'
import { RandomSchedule } from '../../services/chaos/random-schedule.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import type { AccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import type { LocalCluster } from './local-cluster.ts'

/** The chaos engine's view of the local process cluster: signals and the link relays instead of the Docker API. */
export class LocalTarget implements ClusterTarget {
  readonly kind = 'local'

  constructor(private readonly cluster: LocalCluster) {}

  async nodes(): Promise<ClusterNode[]> {
    return [...this.cluster.nodes.values()].map((n) => ({ name: n.name, role: n.role })).sort((a, b) => a.name.localeCompare(b.name))
  }

  async kill(node: string): Promise<void> {
    await this.cluster.kill(node)
  }

  async restart(node: string): Promise<void> {
    if (!this.cluster.isRunning(node)) this.cluster.launch(node) // like `docker start`: a running node is left alone
  }

  async pause(node: string): Promise<void> {
    this.cluster.pause(node)
  }

  async unpause(node: string): Promise<void> {
    this.cluster.resume(node)
  }

  async disconnect(node: string): Promise<void> {
    this.cluster.partition(node)
  }

  async reconnect(node: string): Promise<void> {
    this.cluster.heal(node)
  }
}

export interface LocalChaos {
  url: string
  engine: ChaosEngine
  schedule: RandomSchedule
  app: FastifyInstance
  close(): Promise<void>
}

/**
 * The chaos API of `services/chaos`, run in the process that owns the local
 * cluster (`npm start`, chaos runs, tests), so that the fault scripts and the
 * chaos run talk to the same API whether the cluster is compose or local.
 */
export async function startLocalChaos(cluster: LocalCluster, logger: Logger, port = 0, host = '127.0.0.1', access: AccessTokens = []): Promise<LocalChaos> {
  const engine = new ChaosEngine(new LocalTarget(cluster), logger)
  const schedule = new RandomSchedule(engine, logger)
  const app = buildChaosApp({ engine, schedule, logger, access })
  await app.listen({ host, port })
  const address = app.server.address()
  const bound = typeof address === 'object' && address ? address.port : port
  return {
    url: `http://${host}:${bound}`,
    engine,
    schedule,
    app,
    close: async () => {
      schedule.stop()
      engine.close()
      await app.close()
    },
  }
}
