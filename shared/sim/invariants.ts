import { COORDINATOR, participantNames, type SimConfig, type World } from './world.ts'

export interface Violation {
  invariant: string
  detail: string
}

/** Safety, checked after every step. */
export function checkSafety(config: SimConfig, world: World): Violation | undefined {
  const g = world.ghost
  for (const [txId, appliedAt] of Object.entries(g.applied)) {
    const abortedAt = g.abortedPrepared[txId] ?? []
    if (abortedAt.length > 0) return { invariant: 'atomicity', detail: `${txId} committed at ${appliedAt.join(',')} but aborted at ${abortedAt.join(',')}` }
    const missing = participantNames(config).filter((p) => !(g.yesVotes[txId] ?? []).includes(p))
    if (missing.length > 0) return { invariant: 'commit-needs-every-yes', detail: `${txId} committed at ${appliedAt.join(',')} without a YES vote from ${missing.join(',')}` }
  }
  for (const [txId, outcome] of Object.entries(g.told)) {
    if (outcome === 'committed' && (g.abortedPrepared[txId] ?? []).length > 0) {
      return { invariant: 'client-told-committed', detail: `the client was told ${txId} committed, but ${g.abortedPrepared[txId]!.join(',')} aborted it` }
    }
    if (outcome === 'aborted' && (g.applied[txId] ?? []).length > 0) {
      return { invariant: 'client-told-aborted', detail: `the client was told ${txId} aborted, but ${g.applied[txId]!.join(',')} applied it` }
    }
  }
  for (const p of participantNames(config)) {
    const max = (g.maxVersion[p] ??= {})
    for (const [key, value] of world.nodes[p]!.store) {
      if (!key.startsWith('kv/')) continue
      const version = (value as { version: number }).version
      if (version < (max[key] ?? 0)) return { invariant: 'version-monotonic', detail: `${p} ${key} went from version ${max[key]} back to ${version}` }
      max[key] = version
    }
  }
  return undefined
}

/** Progress and convergence, checked once nothing is left to happen with every node up and the network healed. */
export function checkQuiescent(config: SimConfig, world: World): Violation | undefined {
  const unanswered = world.clients.filter((c) => c.status !== 'answered')
  if (unanswered.length > 0) return { invariant: 'progress', detail: `client requests never answered: ${unanswered.map((c) => config.txns[c.txn]!.clientId).join(',')}` }
  const names = participantNames(config)
  for (const p of names) {
    const s = world.nodes[p]!.participant!
    if (s.prepared.size > 0 || s.locks.size > 0) return { invariant: 'no-leftover-locks', detail: `${p} still holds ${[...s.prepared.keys()].join(',')} prepared and ${s.locks.size} locks` }
  }
  const replica = (p: string): string => JSON.stringify([...world.nodes[p]!.store].filter(([k]) => k.startsWith('kv/')).sort(([a], [b]) => a.localeCompare(b)))
  const first = replica(names[0]!)
  for (const p of names.slice(1)) if (replica(p) !== first) return { invariant: 'replicas-identical', detail: `${p} differs from ${names[0]}: ${replica(p)} vs ${first}` }
  for (const [txId, outcome] of Object.entries(world.ghost.told)) {
    const missing = names.filter((p) => !(world.ghost.applied[txId] ?? []).includes(p))
    if (outcome === 'committed' && missing.length > 0) return { invariant: 'acknowledged-commit-durable', detail: `the client was told ${txId} committed, but it is not applied at ${missing.join(',')}` }
  }
  if (!world.nodes[COORDINATOR]!.up) return { invariant: 'progress', detail: 'the coordinator is down at quiescence' }
  return undefined
}
