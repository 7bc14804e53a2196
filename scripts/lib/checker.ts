import { ownValue } from '../../shared/core/protocol/keyed-object.ts'
import type { Violation } from '../../shared/sim/violation.ts'
import type { TxnRecord } from './history.ts'
import { claimKey, isClaimKey, parseClaim } from '../../shared/core/protocol/client-id-claim.ts'
import { floorKey, isFloorKey } from '../../shared/core/participant/version-floor.ts'
import type { HistoryWrite } from './history.ts'

/** A participant's replica as `/v1/replica` shows it after the run. */
export interface ReplicaState {
  participant: string
  entries: Record<string, { value: string; version: number }>
  /** Reserved keys: client ids' claims (shared/core/protocol/client-id-claim.ts) and version floors (version-floor.ts). */
  reserved?: Record<string, { value: string; version: number }>
  prepared: string[]
  locks: number
}

/** A fault or heal, at ms since the run began (for the traces). */
export interface FaultMark {
  t: number
  event: 'fault' | 'heal'
  kind: string
  node: string
}

export type ViolationCode =
  | 'no-replica'
  | 'in-doubt-left'
  | 'replicas-differ'
  | 'no-outcome'
  | 'missing-version'
  | 'version-claimed-twice'
  | 'precondition-broken'
  | 'aborted-write-visible'
  | 'foreign-value'
  | 'lost-commit'
  | 'unexplained-version'
  | 'wrong-final-value'
  | 'lost-delete'
  | 'resurrected-key'
  | 'version-went-back'
  | 'server-error'
  | 'request-refused'
  | 'client-id-claim'
  | 'in-doubt-too-long'
  | 'failover-too-slow'

/** A guarantee a real run broke, in the simulator's vocabulary (shared/sim/violation.ts). */
export interface RunViolation extends Violation {
  code: ViolationCode
  /** The operations on the same keys around the offending one, and the faults meanwhile. */
  trace?: string[]
}

export interface CheckCounts {
  tried: number
  committed: number
  /** Deletes among the committed operations' writes. */
  committedDeletes: number
  aborted: number
  abortedBy: Record<string, number>
  neverStarted: number
  unknown: number
  /** Cut off at least once, then learned the outcome by retrying with the same id. */
  resolvedByRetry: number
  /** Never learned by the client; read through the status API after the run. */
  resolvedByStatus: number
  /** Answers other than 200, by "status code" (e.g. "503 overloaded"): 503s are the cluster saying it is busy. */
  rejectedBy: Record<string, number>
  faults: Record<string, number>
}

export interface CheckReport {
  counts: CheckCounts
  violations: RunViolation[]
}

/**
 * Judges a run from its history and the final replicas. Values are unique per
 * run, so every value names the operation that wrote it, and every committed
 * write of a key, a delete included, has its own version: version v of key k
 * must have been written by exactly one committed operation, and the
 * replicas must hold the last one (or not hold the key, when the last one
 * deleted it). Within a key's life versions count commits one by one; a life
 * begins above its bucket's floor (version-floor.ts), so the versions skipped
 * before a key's first known write and after a delete need no writer. From that:
 * all-or-nothing (a half-applied commit leaves a version short or a gap), no
 * aborted write visible, no acknowledged commit lost, identical replicas,
 * preconditions respected, versions moving forward in real time, and every
 * operation with a definite outcome. Unknown outcomes are resolved through
 * the status API by the run, never guessed here.
 */
export function checkRun(records: readonly TxnRecord[], replicas: readonly ReplicaState[], faults: readonly FaultMark[] = []): CheckReport {
  const violations: RunViolation[] = []
  const trace = (n: number, key?: string): string[] => traceAround(records, faults, n, key)
  const flag = (code: ViolationCode, message: string, n?: number, key?: string): void => {
    const v: RunViolation = { code, detail: message }
    if (key !== undefined) v.key = key
    if (n !== undefined) {
      v.op = n
      v.trace = trace(n, key)
    }
    violations.push(v)
  }

  checkReplicas(replicas, flag)
  const { writers, unplaced } = checkCommits(records, flag)
  const first = replicas[0]
  if (first) {
    checkValues(records, replicas, flag)
    checkFinalState(first, writers, unplaced, firstLifeFloors(records, first), flag)
    checkClaims(records, first, flag)
  }
  checkLives(writers, flag)
  checkRealTime(writers, flag)
  checkRejections(records, flag)
  return { counts: countRun(records, faults), violations }
}

type Flag = (code: ViolationCode, message: string, n?: number, key?: string) => void

/**
 * The workload sends only well-formed requests: a 503 is the cluster being
 * busy (retried), but any other 5xx is a server fault (`internal` is a bug),
 * and a 4xx refuses a request that is valid.
 */
function checkRejections(records: readonly TxnRecord[], flag: Flag): void {
  for (const op of records) {
    for (const r of op.rejections) {
      if (r.status >= 500 && r.status !== 503) flag('server-error', `op ${op.n} got ${r.status} ${r.code}`, op.n)
      else if (r.status < 500) flag('request-refused', `op ${op.n}, a well-formed request, got ${r.status} ${r.code}`, op.n)
    }
  }
}
/** key → version → the committed operation that wrote it */
type Writers = Map<string, Map<number, TxnRecord>>

function checkReplicas(replicas: readonly ReplicaState[], flag: Flag): void {
  const first = replicas[0]
  if (!first) {
    flag('no-replica', 'no replica to check')
    return
  }
  const reference = JSON.stringify(sorted(first.entries))
  for (const r of replicas) {
    if (r.prepared.length > 0 || r.locks > 0) flag('in-doubt-left', `${r.participant} still holds ${r.prepared.length} PREPARED records and ${r.locks} locks`)
    if (JSON.stringify(sorted(r.reserved ?? {})) !== JSON.stringify(sorted(first.reserved ?? {}))) flag('replicas-differ', `${r.participant}'s client-id claims differ from ${first.participant}'s`)
    if (JSON.stringify(sorted(r.entries)) !== reference) flag('replicas-differ', `${r.participant} differs from ${first.participant}: ${diffEntries(first.entries, r.entries)}`)
  }
}

/**
 * Commits known without their versions: a retry answered from the id's claim
 * at a coordinator that did not run the first attempt learns its txId, not
 * its versions. Per key, they fill the versions no other commit explains.
 */
type Unplaced = Map<string, TxnRecord[]>

function checkCommits(records: readonly TxnRecord[], flag: Flag): { writers: Writers; unplaced: Unplaced } {
  const writers: Writers = new Map()
  const unplaced: Unplaced = new Map()
  for (const op of records) {
    if (op.outcome === 'unknown') flag('no-outcome', `op ${op.n} (${op.id}) never got a definite outcome`, op.n)
    if (op.outcome !== 'committed') continue
    if (op.versions === undefined) {
      for (const w of op.writes) unplaced.set(w.key, [...(unplaced.get(w.key) ?? []), op])
      continue
    }
    for (const w of op.writes) {
      const version = ownValue(op.versions, w.key)
      if (version === undefined) {
        flag('missing-version', `op ${op.n} committed without a version for ${w.key}`, op.n, w.key)
        continue
      }
      // Absent (ifAbsent, ifVersion 0) is judged in checkLives, which knows what came before.
      if (w.ifVersion !== undefined && w.ifVersion > 0 && version !== w.ifVersion + 1) flag('precondition-broken', `op ${op.n} required ${w.key} at version ${w.ifVersion} but committed version ${version}`, op.n, w.key)
      const byVersion = writers.get(w.key) ?? new Map<number, TxnRecord>()
      const other = byVersion.get(version)
      if (other) flag('version-claimed-twice', `ops ${other.n} and ${op.n} both committed ${w.key} at version ${version}`, op.n, w.key)
      byVersion.set(version, op)
      writers.set(w.key, byVersion)
    }
  }
  return { writers, unplaced }
}

/** Every value on every replica must come from a committed operation. */
function checkValues(records: readonly TxnRecord[], replicas: readonly ReplicaState[], flag: Flag): void {
  const owner = new Map<string, TxnRecord>()
  for (const op of records) for (const w of op.writes) if ('value' in w) owner.set(`${w.key}\u0000${w.value}`, op)
  const seen = new Set<string>()
  for (const r of replicas) {
    for (const [key, entry] of Object.entries(r.entries)) {
      const id = `${key}\u0000${entry.value}`
      if (seen.has(id)) continue
      seen.add(id)
      const op = owner.get(id)
      if (!op) flag('foreign-value', `${r.participant} holds ${key}="${entry.value}", which no operation of the run wrote`, undefined, key)
      else if (op.outcome !== 'committed') flag('aborted-write-visible', `${r.participant} holds ${key}="${entry.value}" from op ${op.n}, which ended ${op.outcome}${op.reason === undefined ? '' : ` (${op.reason})`}`, op.n, key)
    }
  }
}

/** The write an operation made to `key`. */
function writeOf(op: TxnRecord | undefined, key: string): HistoryWrite | undefined {
  return op?.writes.find((w) => w.key === key)
}

const isDeleteWrite = (w: HistoryWrite | undefined): boolean => w !== undefined && 'delete' in w

/**
 * Where a key's first life in this run began, when that is known: keys are
 * new to each run (tagged), so it began just above its bucket's floor; if no
 * operation of the run deleted a key of that bucket, the floor did not move
 * during the run and the replicas show it.
 */
function firstLifeFloors(records: readonly TxnRecord[], replica: ReplicaState): (key: string) => number | undefined {
  const moved = new Set(records.flatMap((op) => op.writes.filter(isDeleteWrite).map((w) => floorKey(w.key))))
  return (key) => (moved.has(floorKey(key)) ? undefined : (ownValue(replica.reserved ?? {}, floorKey(key))?.version ?? 0))
}

function checkFinalState(replica: ReplicaState, writers: Writers, unplaced: Unplaced, floorOf: (key: string) => number | undefined, flag: Flag): void {
  const keys = new Set([...writers.keys(), ...unplaced.keys(), ...Object.keys(replica.entries)])
  for (const key of keys) {
    const byVersion = writers.get(key) ?? new Map<number, TxnRecord>()
    const without = unplaced.get(key) ?? []
    const entry = ownValue(replica.entries, key)
    const top = Math.max(0, ...byVersion.keys())
    const topOp = byVersion.get(top)
    const topWrite = writeOf(topOp, key)
    checkGaps(key, byVersion, without, entry, floorOf(key), flag)
    if (isDeleteWrite(topWrite)) {
      checkDeleted(key, byVersion, top, topOp!, entry, without, flag)
      continue
    }
    const finalVersion = entry?.version ?? 0
    // A delete without a known version may have ended the key after its last known write.
    const deletedLater = entry === undefined && without.some((op) => isDeleteWrite(writeOf(op, key)))
    if (finalVersion < top && !deletedLater) flag('lost-commit', `key ${key}: replicas at version ${finalVersion}, but op ${topOp?.n} committed version ${top}`, topOp?.n, key)
    if (entry && finalVersion === top && topWrite && 'value' in topWrite && entry.value !== topWrite.value) {
      flag('wrong-final-value', `key ${key}: replicas hold "${entry.value}", the last commit (op ${topOp?.n}) wrote "${topWrite.value}"`, topOp?.n, key)
    }
    if (entry && finalVersion > top && !without.some((op) => op.writes.some((w) => w.key === key && 'value' in w && w.value === entry.value))) {
      flag('wrong-final-value', `key ${key}: replicas hold "${entry.value}" at version ${finalVersion}, which no commit without a known version wrote`, undefined, key)
    }
  }
}

/**
 * The last known write deleted the key: the replicas must not hold it, unless
 * a commit without a known version created it again. A value from before the
 * delete is a lost delete, a value from before an earlier delete a
 * resurrected key.
 */
function checkDeleted(key: string, byVersion: Map<number, TxnRecord>, top: number, topOp: TxnRecord, entry: { value: string; version: number } | undefined, without: TxnRecord[], flag: Flag): void {
  if (!entry) return
  if (entry.version > top) {
    if (!without.some((op) => op.writes.some((w) => w.key === key && 'value' in w && w.value === entry.value))) flag('wrong-final-value', `key ${key}: replicas hold "${entry.value}" at version ${entry.version}, after op ${topOp.n} deleted it at version ${top}, and no commit without a known version wrote it`, undefined, key)
    return
  }
  // The delete that ended the life the replicas show: the last one, or an earlier one (the key came back from further away).
  const ended = [...byVersion].filter(([v, op]) => v > entry.version && isDeleteWrite(writeOf(op, key))).sort(([a], [b]) => a - b)[0]!
  const [endedAt, endedBy] = ended
  if (endedAt === top) flag('lost-delete', `key ${key}: op ${topOp.n} deleted it at version ${top}, but the replicas still hold "${entry.value}" at version ${entry.version}`, topOp.n, key)
  else flag('resurrected-key', `key ${key}: the replicas hold "${entry.value}" at version ${entry.version}, a life that op ${endedBy.n} ended at version ${endedAt}; op ${topOp.n} deleted it again at version ${top}`, endedBy.n, key)
}

/**
 * Versions no known commit wrote. Inside a life (after a put) each must be
 * explained by a commit without a known version; before the first known
 * write and after a delete, a life may begin above its floor, so those may
 * be explained but need not be. A put without a known version that fits
 * nowhere is lost.
 */
function checkGaps(key: string, byVersion: Map<number, TxnRecord>, without: TxnRecord[], entry: { value: string; version: number } | undefined, floor: number | undefined, flag: Flag): void {
  const known = [...byVersion.keys()].sort((a, b) => a - b)
  const required: number[] = []
  // Before the first known write: from the floor on if it is known (firstLifeFloors), else maybe from higher up.
  const first = known[0] ?? (entry ? entry.version : 1)
  let optional = floor ?? first - 1
  if (floor !== undefined) for (let v = floor + 1; v < first; v++) required.push(v)
  if (floor !== undefined && known.length === 0 && entry) required.push(entry.version)
  for (let i = 1; i < known.length; i++) {
    const between = known[i]! - known[i - 1]! - 1
    if (isDeleteWrite(writeOf(byVersion.get(known[i - 1]!), key))) optional += between
    else for (let v = known[i - 1]! + 1; v < known[i]!; v++) required.push(v)
  }
  const top = known.at(-1) ?? 0
  if (entry && entry.version > top) {
    if (known.length === 0) {
      if (floor === undefined) required.push(entry.version)
    } else if (isDeleteWrite(writeOf(byVersion.get(top), key))) {
      optional += entry.version - top - 1
      required.push(entry.version)
    } else for (let v = top + 1; v <= entry.version; v++) required.push(v)
  }
  // Each commit without a known version explains one of the gaps, no more. A delete among them leaves no
  // trace but its version: it may sit anywhere, and puts after it may have left none either.
  for (const v of required.slice(without.length)) flag('unexplained-version', `key ${key}: version ${v} is on the replicas but no committed operation wrote it`, undefined, key)
  if (without.some((op) => isDeleteWrite(writeOf(op, key)))) return
  for (const op of without.slice(required.length + optional)) flag('lost-commit', `key ${key}: op ${op.n} committed (its version unknown), but the replicas hold no version of ${key} that no other commit explains`, op.n, key)
}

/**
 * A write that required the key absent (ifAbsent, ifVersion 0) must not
 * directly follow a put of it: a life cannot be absent at its next version.
 * A delete or a gap (a commit without a known version) before it may explain it.
 */
function checkLives(writers: Writers, flag: Flag): void {
  for (const [key, byVersion] of writers) {
    for (const [version, op] of byVersion) {
      const w = writeOf(op, key)!
      if (w.ifAbsent !== true && w.ifVersion !== 0) continue
      const before = byVersion.get(version - 1)
      if (before && !isDeleteWrite(writeOf(before, key))) flag('precondition-broken', `op ${op.n} required ${key} absent but committed version ${version} right after op ${before.n} wrote version ${version - 1}`, op.n, key)
    }
  }
}

/**
 * A client id's claim (shared/core/protocol/client-id-claim.ts) is on the
 * replicas exactly when a transaction with that id committed: once, by the
 * operation of that id, under the txId its client was told.
 */
function checkClaims(records: readonly TxnRecord[], replica: ReplicaState, flag: Flag): void {
  const byId = new Map(records.map((op) => [op.id, op]))
  for (const [key, entry] of Object.entries(replica.reserved ?? {})) {
    if (isFloorKey(key)) continue
    const id = isClaimKey(key) ? key.slice(claimKey('').length) : undefined
    const op = id === undefined ? undefined : byId.get(id)
    const claim = parseClaim(entry.value)
    if (op === undefined || claim === undefined) {
      flag('client-id-claim', `${replica.participant} holds the reserved key ${JSON.stringify(key)}="${entry.value}", which no operation of the run claimed`, undefined, key)
    } else if (op.outcome !== 'committed' && op.outcome !== 'unknown') {
      flag('client-id-claim', `client id ${op.id} is claimed by ${claim.txId}, but op ${op.n} ended ${op.outcome}`, op.n, key)
    } else if (entry.version !== 1 || (op.txId !== undefined && op.txId !== claim.txId)) {
      flag('client-id-claim', `client id ${op.id} is claimed by ${claim.txId} at version ${entry.version}; op ${op.n} was told ${String(op.txId)}`, op.n, key)
    }
  }
}

/**
 * Versions only go forward: if A's commit was acknowledged before B was
 * invoked, B's version of a shared key must be higher than A's.
 */
function checkRealTime(writers: Writers, flag: Flag): void {
  for (const [key, byVersion] of writers) {
    const ops = [...byVersion.entries()].map(([version, op]) => ({ version, op }))
    const completed = ops.flatMap(({ version, op }) => (op.completedAt === undefined ? [] : [{ version, op, completedAt: op.completedAt }])).sort((a, b) => a.completedAt - b.completedAt)
    const byInvoke = [...ops].sort((a, b) => a.op.invokedAt - b.op.invokedAt)
    let i = 0
    let highest: { version: number; op: TxnRecord } | undefined
    for (const b of byInvoke) {
      for (let done = completed[i]; done && done.completedAt < b.op.invokedAt; done = completed[++i]) {
        if (!highest || done.version > highest.version) highest = done
      }
      if (highest && highest.version >= b.version) {
        flag('version-went-back', `key ${key}: op ${b.op.n} committed version ${b.version} although op ${highest.op.n} had committed version ${highest.version} before op ${b.op.n} began`, b.op.n, key)
      }
    }
  }
}

function countRun(records: readonly TxnRecord[], faults: readonly FaultMark[]): CheckCounts {
  const counts: CheckCounts = { tried: records.length, committed: 0, committedDeletes: 0, aborted: 0, abortedBy: {}, neverStarted: 0, unknown: 0, resolvedByRetry: 0, resolvedByStatus: 0, rejectedBy: {}, faults: {} }
  for (const op of records) {
    if (op.outcome === 'committed') {
      counts.committed++
      counts.committedDeletes += op.writes.filter(isDeleteWrite).length
    }
    else if (op.outcome === 'aborted') {
      counts.aborted++
      const reason = op.reason ?? 'unstated'
      counts.abortedBy[reason] = (counts.abortedBy[reason] ?? 0) + 1
    } else if (op.outcome === 'never-started') counts.neverStarted++
    else counts.unknown++
    if (op.resolvedBy === 'retry') counts.resolvedByRetry++
    if (op.resolvedBy === 'status') counts.resolvedByStatus++
    for (const r of op.rejections) counts.rejectedBy[`${r.status} ${r.code}`] = (counts.rejectedBy[`${r.status} ${r.code}`] ?? 0) + 1
  }
  for (const f of faults) if (f.event === 'fault') counts.faults[f.kind] = (counts.faults[f.kind] ?? 0) + 1
  return counts
}

/** The operations on the offending keys within a second of the offender, and the faults meanwhile, in time order. */
function traceAround(records: readonly TxnRecord[], faults: readonly FaultMark[], n: number, key?: string): string[] {
  const op = records.find((r) => r.n === n)
  /* c8 ignore next -- violations only name operations of the run */
  if (!op) return []
  const keys = new Set(key === undefined ? op.writes.map((w) => w.key) : [key])
  const from = op.invokedAt - 1000
  const to = (op.completedAt ?? op.invokedAt) + 1000
  const lines: { t: number; text: string }[] = []
  for (const r of records) {
    if (!r.writes.some((w) => keys.has(w.key))) continue
    if ((r.completedAt ?? r.invokedAt) < from || r.invokedAt > to) continue
    const marker = r.n === n ? '>>' : '  '
    const writes = r.writes.map((w) => `${w.key}=${'value' in w ? w.value : '(delete)'}${w.ifVersion === undefined ? '' : `@ifVersion ${w.ifVersion}`}${w.ifAbsent === true ? '@ifAbsent' : ''}`).join(' ')
    lines.push({ t: r.invokedAt, text: `${marker} op ${r.n} (client ${r.client}) invoke ${writes}` })
    const result = `${r.outcome}${r.versions ? ` ${JSON.stringify(r.versions)}` : ''}${r.reason === undefined ? '' : ` ${r.reason}`}`
    if (r.completedAt !== undefined) lines.push({ t: r.completedAt, text: `${marker} op ${r.n} ${result}${r.cutOffs > 0 ? ` after ${r.cutOffs} cut-off(s)` : ''}` })
    else lines.push({ t: r.invokedAt, text: `${marker} op ${r.n} never answered; ${r.resolvedBy === 'status' ? `status API: ${result}` : 'unresolved'}` })
  }
  for (const f of faults) if (f.t >= from && f.t <= to) lines.push({ t: f.t, text: `   chaos ${f.event} ${f.kind} ${f.node}` })
  return lines
    .sort((a, b) => a.t - b.t)
    .slice(0, 40)
    .map((l) => `+${(l.t / 1000).toFixed(3)}s ${l.text}`)
}

function sorted(entries: Record<string, unknown>): [string, unknown][] {
  return Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))
}

function diffEntries(a: ReplicaState['entries'], b: ReplicaState['entries']): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])]
  const diff = keys.filter((k) => JSON.stringify(ownValue(a, k)) !== JSON.stringify(ownValue(b, k)))
  return diff.slice(0, 5).map((k) => `${k}: ${JSON.stringify(ownValue(a, k))} vs ${JSON.stringify(ownValue(b, k))}`).join('; ')
}
