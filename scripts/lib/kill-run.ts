import { Prng } from '../../shared/sim/prng.ts'
import { checkHistory, type OpRecord, type ReplicaState } from './history-check.ts'
import type { LocalCluster } from './local-cluster.ts'

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
  /** Each client pauses [min, max] ms between transactions, so the run spans many kills. */
  thinkMs: [number, number]
  onProgress?: (done: number, total: number) => void
}

export interface KillRunReport {
  seed: number
  ops: OpRecord[]
  kills: { at: number; node: string }[]
  committed: number
  aborted: number
  failed: number
  resolvedByRetry: number
  violations: string[]
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

type Attempt = { kind: 'answer'; body: { outcome: 'committed' | 'aborted'; versions?: Record<string, number>; reasons?: { code: string }[] } } | { kind: 'refused' } | { kind: 'cut' } | { kind: 'busy' }

async function attempt(url: string, writes: OpRecord['writes'], id: string): Promise<Attempt> {
  try {
    const res = await fetch(`${url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ writes, id }),
      signal: AbortSignal.timeout(15000),
    })
    /* c8 ignore next 4 -- an overloaded (503) answer depends on timing; it is retried like a cut-off */
    if (res.status !== 200) {
      await res.arrayBuffer()
      return { kind: 'busy' }
    }
    return { kind: 'answer', body: (await res.json()) as Extract<Attempt, { kind: 'answer' }>['body'] }
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code
    return code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'cut' }
  }
}

/**
 * Concurrent clients run transactions on overlapping keys while a random
 * node is SIGKILLed and restarted. A client cut off mid-request retries with
 * the same id until it gets a definite outcome. At the end every node is up,
 * everything settles, and the history is checked against the replicas.
 * Every choice (keys, values, victims, delays) comes from one seed.
 */
export async function killRun(cluster: LocalCluster, options: KillRunOptions): Promise<KillRunReport> {
  const prng = new Prng(options.seed)
  const killPlan = Array.from({ length: options.kills }, () => ({ after: prng.int(...options.killEveryCommits), down: prng.int(...options.downMs), victim: prng.pick(['coordinator', ...cluster.participantNames]) }))
  const plan: OpRecord[] = []
  const thinks: number[] = []
  /** Op n depends only on (seed, n), whatever order the clients take them in. */
  const opFor = (n: number): OpRecord => {
    const p = new Prng((options.seed * 7919 + n * 104729) >>> 0)
    const keys = new Set<string>()
    const keyCount = p.int(1, 3)
    while (keys.size < keyCount) keys.add(`k${p.int(0, options.keys - 1)}`)
    thinks[n] = p.int(...options.thinkMs)
    return { n, clientId: `kill-${options.seed}-${n}`, writes: [...keys].map((key) => ({ key, value: `${n}:${key}` })), outcome: 'unknown' }
  }
  const report: KillRunReport = { seed: options.seed, ops: plan, kills: [], committed: 0, aborted: 0, failed: 0, resolvedByRetry: 0, violations: [] }
  const started = Date.now()
  let done = 0
  let committed = 0
  let killsDone = 0
  let running = true
  const more = (): boolean => (plan.length < options.txns || killsDone < killPlan.length) && plan.length < options.txns * 20

  const client = async (): Promise<void> => {
    while (more()) {
      const op = opFor(plan.length)
      plan.push(op)
      let cut = false
      for (let tries = 0; tries < 400 && op.outcome === 'unknown'; tries++) {
        const a = await attempt(cluster.url, op.writes, op.clientId)
        if (a.kind === 'answer') {
          op.outcome = a.body.outcome
          if (a.body.versions) op.versions = a.body.versions
          const reason = a.body.reasons?.[0]?.code
          if (reason !== undefined) op.reason = reason
          if (cut) report.resolvedByRetry++
          if (op.outcome === 'committed') committed++
        } else {
          cut ||= a.kind === 'cut'
          await sleep(100)
        }
      }
      if (op.outcome === 'unknown') op.outcome = 'failed' // gave up; the checker still verifies nothing of it is half-applied
      done++
      options.onProgress?.(done, Math.max(options.txns, plan.length))
      // Back off while a node is down, as a polite client would.
      const unavailable = op.reason === 'participant_unavailable' || op.reason === 'participant_disconnected'
      await sleep((thinks[op.n] ?? 0) + (unavailable ? 100 : 0))
    }
  }

  const killer = async (): Promise<void> => {
    let killAt = 0
    for (const k of killPlan) {
      killAt += k.after
      while (running && committed < killAt) await sleep(10)
      if (!running) return
      report.kills.push({ at: Date.now() - started, node: k.victim })
      await cluster.kill(k.victim)
      await sleep(k.down)
      await cluster.start(k.victim)
      killsDone++
    }
  }

  const killing = killer()
  await Promise.all(Array.from({ length: options.clients }, client))
  running = false
  await killing
  for (const name of cluster.nodes.keys()) if (!cluster.isRunning(name)) await cluster.start(name)
  await cluster.waitReady(60000)
  const replicas = await settledReplicas(cluster)
  for (const op of plan) {
    if (op.outcome === 'committed') report.committed++
    else if (op.outcome === 'aborted') report.aborted++
    else report.failed++ // ops end committed, aborted or failed (gave up)
  }
  report.violations = checkHistory(plan, replicas)
  return report
}

async function settledReplicas(cluster: LocalCluster, timeoutMs = 60000): Promise<ReplicaState[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all = await Promise.all(cluster.participantNames.map(async (p) => (await (await fetch(`${cluster.urlOf(p)}/v1/replica`)).json()) as ReplicaState))
    if (all.every((r) => r.prepared.length === 0 && r.locks === 0) || Date.now() > deadline) return all
    /* c8 ignore start -- only when a replica is still resolving at the end */
    await sleep(100)
    /* c8 ignore stop */
  }
}
