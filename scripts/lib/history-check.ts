/**
 * Checks a run's outcomes against the final replicas. Every key's version
 * must be explained by exactly the committed transactions: version v of key k
 * was written by one committed transaction, the final version is the highest
 * committed one and holds that transaction's value. An aborted transaction
 * that left a trace anywhere would bump a version nobody committed; a lost
 * commit would leave the final version short. Replicas must be identical.
 */
export interface OpRecord {
  n: number
  clientId: string
  writes: { key: string; value: string }[]
  outcome: 'committed' | 'aborted' | 'unknown' | 'failed'
  versions?: Record<string, number>
  reason?: string
}

export interface ReplicaState {
  participant: string
  entries: Record<string, { value: string; version: number }>
  prepared: string[]
  locks: number
}

export function checkHistory(ops: OpRecord[], replicas: ReplicaState[]): string[] {
  const violations: string[] = []
  const first = replicas[0]
  if (!first) return ['no replica to check']
  for (const r of replicas) {
    if (r.prepared.length > 0 || r.locks > 0) violations.push(`${r.participant} still holds ${r.prepared.length} PREPARED records and ${r.locks} locks`)
    if (JSON.stringify(sortEntries(r.entries)) !== JSON.stringify(sortEntries(first.entries))) {
      violations.push(`${r.participant} differs from ${first.participant}: ${diffEntries(first.entries, r.entries)}`)
    }
  }
  const writers = new Map<string, Map<number, OpRecord>>()
  for (const op of ops) {
    if (op.outcome === 'unknown' || op.outcome === 'failed') violations.push(`op ${op.n} (${op.clientId}) never got a definite outcome`)
    if (op.outcome !== 'committed') continue
    for (const w of op.writes) {
      const version = op.versions?.[w.key]
      if (version === undefined) {
        violations.push(`op ${op.n} committed without a version for ${w.key}`)
        continue
      }
      const byVersion = writers.get(w.key) ?? new Map<number, OpRecord>()
      const other = byVersion.get(version)
      if (other) violations.push(`ops ${other.n} and ${op.n} both committed ${w.key} at version ${version}`)
      byVersion.set(version, op)
      writers.set(w.key, byVersion)
    }
  }
  const keys = new Set([...writers.keys(), ...Object.keys(first.entries)])
  for (const key of keys) {
    const byVersion = writers.get(key) ?? new Map<number, OpRecord>()
    const entry = first.entries[key]
    const finalVersion = entry?.version ?? 0
    const top = Math.max(0, ...byVersion.keys())
    if (finalVersion !== top) violations.push(`key ${key}: replica at version ${finalVersion}, highest committed version ${top}`)
    for (let v = 1; v <= finalVersion; v++) {
      if (!byVersion.has(v)) violations.push(`key ${key}: version ${v} was written by no committed transaction`)
    }
    const topOp = byVersion.get(top)
    const expected = topOp?.writes.find((w) => w.key === key)?.value
    if (entry && expected !== undefined && entry.value !== expected) {
      violations.push(`key ${key}: replica holds "${entry.value}", the last commit (op ${topOp?.n}) wrote "${expected}"`)
    }
  }
  return violations
}

function sortEntries(entries: Record<string, unknown>): [string, unknown][] {
  return Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))
}

function diffEntries(a: Record<string, { value: string; version: number }>, b: Record<string, { value: string; version: number }>): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  const diff = keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
  return diff.slice(0, 5).map((k) => `${k}: ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`).join('; ')
}
