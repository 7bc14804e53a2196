import { Prng } from '../../shared/core/prng.ts'
import type { RunViolation } from './checker.ts'
import { judgeRun } from './judge-run.ts'
import type { LocalCluster } from './local-cluster.ts'
import { runWorkload } from './workload.ts'

export interface KillRunOptions {
  seed: number
  txns: number
  clients: number
  keys: number
  /** How many SIGKILLs the run makes; clients go on past `txns` until they are done. */
  kills: number
  /**
   * A random node is SIGKILLed after every [min, max] commits (so the number of
   * kills per seed does not depend on the machine's speed, and the cluster
   * commits between kills), and restarted after [downMin, downMax] ms.
   */
  killEveryCommits: [number, number]
  downMs: [number, number]
  /**
   * The sets of nodes a kill may take down together (one set drawn per
   * kill); by default each node alone. E.g. [['coordinator', 'p1'], ['p1', 'p2']]:
   * a coordinator and a participant at once, or two participants.
   */
  groups?: string[][]
  /** Each client pauses [min, max] ms between transactions, so the run spans many kills. */
  thinkMs: [number, number]
  onProgress?: (done: number, total: number) => void
}

export interface KillRunReport {
  seed: number
  /** `node` names every node of the kill, joined by "+". */
  kills: { at: number; node: string }[]
  tried: number
  committed: number
  aborted: number
  /** Never learned by the client and not known to the coordinator: never started. */
  neverStarted: number
  resolvedByRetry: number
  resolvedByStatus: number
  violations: RunViolation[]
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/**
 * The chaos workload while random nodes are SIGKILLed and restarted, with the
 * kills counted in commits: every choice (operations, victims, delays) comes
 * from one seed. At the end every node is up, everything settles, and the
 * history is checked against the replicas.
 */
export async function killRun(cluster: LocalCluster, options: KillRunOptions): Promise<KillRunReport> {
  const prng = new Prng(options.seed)
  const groups = options.groups ?? ['coordinator', ...cluster.participantNames].map((n) => [n])
  const killPlan = Array.from({ length: options.kills }, () => ({ after: prng.int(...options.killEveryCommits), down: prng.int(...options.downMs), victims: prng.pick(groups) }))
  const startedAt = Date.now()
  const tag = `kill${options.seed}`
  const kills: KillRunReport['kills'] = []
  let invoked = 0
  let done = 0
  let committed = 0
  let running = true

  const killer = async (): Promise<void> => {
    let killAt = 0
    for (const k of killPlan) {
      killAt += k.after
      while (running && committed < killAt) await sleep(10)
      if (!running) return
      kills.push({ at: Date.now() - startedAt, node: k.victims.join('+') })
      await Promise.all(k.victims.map(async (v) => cluster.kill(v)))
      await sleep(k.down)
      await Promise.all(k.victims.map(async (v) => cluster.start(v)))
    }
  }
  const killing = killer()
  const history = await runWorkload({
    urls: [cluster.url],
    seed: options.seed,
    tag,
    clients: options.clients,
    keys: options.keys,
    keysPerTxn: [1, 3],
    preconditionRate: 0.2,
    deleteRate: 0.1,
    thinkMs: options.thinkMs,
    keepGoing: () => (invoked < options.txns || kills.length < killPlan.length) && invoked < options.txns * 20,
    maxAttempts: 400,
    requestTimeoutMs: 15000,
    startedAt,
    onEvent: (e) => {
      if (e.type === 'invoke') invoked++
      if (e.type === 'ok' || e.type === 'fail') options.onProgress?.(++done, Math.max(options.txns, invoked))
      if (e.type === 'ok') committed++
    },
  })
  running = false
  await killing
  for (const name of cluster.nodes.keys()) if (!cluster.isRunning(name)) await cluster.start(name)
  await cluster.waitReady(60000)
  const judged = await judgeRun([cluster.url], cluster.participantNames.map((p) => cluster.urlOf(p)), history, startedAt, `${tag}-`)
  const c = judged.counts
  return { seed: options.seed, kills, tried: c.tried, committed: c.committed, aborted: c.aborted, neverStarted: c.neverStarted, resolvedByRetry: c.resolvedByRetry, resolvedByStatus: c.resolvedByStatus, violations: judged.violations }
}
