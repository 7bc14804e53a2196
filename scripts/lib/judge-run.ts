import { checkRun, type CheckReport, type FaultMark, type ReplicaState } from './checker.ts'
import { foldHistory, type HistoryEvent } from './history.ts'
import { resolveUnknown } from './workload.ts'
import { authHeaders } from './credentials.ts'

export interface Judgement extends CheckReport {
  /** The history with the status-API resolutions appended. */
  history: HistoryEvent[]
  replicas: ReplicaState[]
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/**
 * The end of a run, once every fault is healed and every node is up: resolve
 * the outcomes nobody heard through the status API, wait until no replica
 * holds a PREPARED record or a lock (nothing in doubt), read every replica
 * (the run's keys only) and check the history against them.
 */
export async function judgeRun(coordinatorUrls: readonly string[], replicaUrls: readonly string[], history: readonly HistoryEvent[], startedAt: number, keyPrefix: string, faults: readonly FaultMark[] = []): Promise<Judgement> {
  const full = [...history, ...(await resolveUnknown(coordinatorUrls, [...history], startedAt))]
  const replicas = await settledReplicas(replicaUrls, keyPrefix)
  return { ...checkRun(foldHistory(full), replicas, faults), history: full, replicas }
}

async function settledReplicas(urls: readonly string[], prefix: string, timeoutMs = 60000): Promise<ReplicaState[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const all = await Promise.all(urls.map(async (url) => (await (await fetch(`${url}/v1/replica?prefix=${encodeURIComponent(prefix)}`, { headers: authHeaders('admin'), signal: AbortSignal.timeout(10000) })).json()) as ReplicaState))
    // Past the deadline the checker reports what is still in doubt.
    if (all.every((r) => r.prepared.length === 0 && r.locks === 0) || Date.now() > deadline) return all
    await sleep(100)
  }
}

/** Waits until every URL answers 200 (the nodes are back after the faults). */
export async function waitAllReady(urls: readonly string[], timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (const url of urls) {
    for (;;) {
      const status = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
        async (r) => {
          await r.arrayBuffer()
          return r.status
        },
        () => 0,
      )
      if (status === 200) break
      if (Date.now() > deadline) throw new Error(`${url} not ready ${timeoutMs} ms after the faults were healed`)
      await sleep(100)
    }
  }
}
