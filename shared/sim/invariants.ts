import { keyedObject } from '../core/protocol/keyed-object.ts'
import { recordPrefix } from '../core/record-keys.ts'
import type { StoreOp } from '../core/store.ts'
import type { Entry } from '../core/protocol/types.ts'
import { COORDINATOR, participantNames, type SimConfig, type World } from './model.ts'
import type { Violation } from './violation.ts'
export type { Violation }


/**
 * Safety, checked after every step. Each check is a function of the ghost,
 * which only grows, so a violation found in one state is found in every
 * later state, down to the terminal states (one check, that a key's version
 * never goes back, depends on the moment: `noteVersions` makes it when a
 * write becomes durable and keeps what it finds in `ghost.flaws`). That is
 * what lets the search's partial-order reduction (partial-order.ts) skip
 * intermediate states. The one exception is commit-needs-every-yes: a YES
 * vote cast after the apply would hide it again; what stays checked in every
 * case is that by the end every participant voted YES for every applied
 * transaction.
 */
export function checkSafety(world: World, names: readonly string[]): Violation | undefined {
  const g = world.ghost
  if (g.flaws.length > 0) return g.flaws[0]
  for (const [txId, appliedAt] of Object.entries(g.applied)) {
    const abortedAt = g.abortedPrepared[txId] ?? []
    if (abortedAt.length > 0) return { code: 'atomicity', detail: `${txId} committed at ${appliedAt.join(',')} but aborted at ${abortedAt.join(',')}` }
    const missing = names.filter((p) => !(g.yesVotes[txId] ?? []).includes(p))
    if (missing.length > 0) return { code: 'commit-needs-every-yes', detail: `${txId} committed at ${appliedAt.join(',')} without a YES vote from ${missing.join(',')}` }
  }
  for (const [txId, outcome] of Object.entries(g.told)) {
    if (outcome === 'committed' && (g.abortedPrepared[txId] ?? []).length > 0) {
      return { code: 'client-told-committed', detail: `the client was told ${txId} committed, but ${g.abortedPrepared[txId]!.join(',')} aborted it` }
    }
    if (outcome === 'aborted' && (g.applied[txId] ?? []).length > 0) {
      return { code: 'client-told-aborted', detail: `the client was told ${txId} aborted, but ${g.applied[txId]!.join(',')} applied it` }
    }
  }
  return undefined
}

/**
 * Made as a commit's apply is written at a participant: every key it puts
 * takes a version above the one the replica holds, or is the entry it holds (each committed write of a
 * key has its own version; a repeated one means a precondition was checked
 * against a version that was no longer the key's).
 */
export function noteApplyVersions(world: World, participant: string, ops: readonly StoreOp[]): void {
  const store = world.nodes[participant]!.store
  for (const op of ops) {
    if (op.type !== 'put' || !op.key.startsWith(recordPrefix.entry)) continue
    const old = store.get(op.key) as Entry | undefined
    const entry = op.value as Entry
    // The same entry again is the same write (an apply written twice); another one at the old version is not.
    const same = old?.version === entry.version && old.value === entry.value
    const before = old?.version ?? 0
    const version = entry.version
    if (version <= before && !same) world.ghost.flaws.push({ code: 'version-reused', detail: `${participant} committed ${op.key} at version ${version} over version ${before}` })
  }
}

/** Made when a write becomes durable at a participant: no key's version on its replica is lower than one it had before. */
export function noteVersions(world: World, participant: string): void {
  const g = world.ghost
  const max = (g.maxVersion[participant] ??= keyedObject())
  for (const [key, value] of world.nodes[participant]!.store) {
    if (!key.startsWith(recordPrefix.entry)) continue
    const version = (value as { version: number }).version
    if (version < (max[key] ?? 0)) g.flaws.push({ code: 'version-monotonic', detail: `${participant} ${key} went from version ${max[key]} back to ${version}` })
    else max[key] = version
  }
}

/** Progress and convergence, checked once nothing is left to happen with every node up and the network healed. */
export function checkQuiescent(config: SimConfig, world: World): Violation | undefined {
  // A coordinator gone for good leaves its clients unanswered (issue 17 adds a second one); what must still hold is
  // that nobody is left blocked: every transaction decided, no PREPARED record and no lock at any participant.
  const gone = config.coordinatorNeverReturns === true && !world.nodes[COORDINATOR]!.up
  const unanswered = world.clients.filter((c) => c.status !== 'answered')
  if (unanswered.length > 0 && !gone) return { code: 'progress', detail: `client requests never answered: ${unanswered.map((c) => config.txns[c.txn]!.clientId).join(',')}` }
  const names = participantNames(config)
  for (const p of names) {
    const s = world.nodes[p]!.participant!
    if (s.prepared.size === 0 && s.locks.size === 0) continue
    const detail = `${p} still holds ${[...s.prepared.keys()].join(',')} prepared and ${s.locks.size} locks`
    return gone ? { code: 'blocked-in-doubt', detail: `${detail}, with the coordinator gone for good` } : { code: 'no-leftover-locks', detail }
  }
  const replica = (p: string): string => JSON.stringify([...world.nodes[p]!.store].filter(([k]) => k.startsWith(recordPrefix.entry)).sort(([a], [b]) => a.localeCompare(b)))
  const first = replica(names[0]!)
  for (const p of names.slice(1)) if (replica(p) !== first) return { code: 'replicas-identical', detail: `${p} differs from ${names[0]}: ${replica(p)} vs ${first}` }
  for (const [txId, outcome] of Object.entries(world.ghost.told)) {
    const missing = names.filter((p) => !(world.ghost.applied[txId] ?? []).includes(p))
    if (outcome === 'committed' && missing.length > 0) return { code: 'acknowledged-commit-durable', detail: `the client was told ${txId} committed, but it is not applied at ${missing.join(',')}` }
  }
  if (!world.nodes[COORDINATOR]!.up && !gone) return { code: 'progress', detail: 'the coordinator is down at quiescence' }
  return undefined
}
