import { abortReasons } from '../abort-reasons.ts'
import { explainToCoordinator, explainToParticipant } from '../protocol/codec.ts'
import type { AcceptorRecord } from '../paxos/acceptor.ts'
import { ballotOwner } from '../paxos/ballot.ts'
import { coordinatorOf } from '../protocol/tx-id.ts'
import { isClaimKey, isReservedKey } from '../protocol/client-id-claim.ts'
import { floorKey, isFloorKey } from './version-floor.ts'
import { inRange, listPage, scannedPage, scanStart, type ListPage, type ListRange } from './listing.ts'
import { cacheHas, cacheSet, evict, fillLoaded, MAX_PARKED, newReplicaCache, noteChange, pin, type ParkedRequest } from './replica-cache.ts'
import { limits } from '../protocol/messages.ts'
import { ParticipantPaxos } from './paxos.ts'
import { assertSendable } from '../protocol/sendable.ts'
import { invariant } from '../protocol/invariant.ts'
import { logEffect, persistEffect } from '../protocol/persist.ts'
import { assertParticipantEffects, assertParticipantState } from './invariants.ts'
import { COORDINATOR_NODE, type PrepareMsg, type ToCoordinator, type ToParticipant, type ParticipantTxnState, type VoteReason } from '../protocol/messages.ts'
import { mapFromObject, objectFromMap } from '../protocol/keyed-object.ts'
import { entryKey, preparedKey, resolvedKey } from '../record-keys.ts'
import { isDelete, type Entry, type Outcome, type Versions, type Write } from '../protocol/types.ts'
import type { StoreOp } from '../store.ts'
import type { ParticipantTimer } from '../protocol/timers.ts'
import type {
  ParticipantEffect,
  ParticipantEvent,
  ParticipantOptions,
  ParticipantPersistKind,
  ParticipantState,
  PendingRead,
  PreparedRecord,
  PreparedTxn,
  ResolvedRecord,
} from './types.ts'

const SWEEP_TIMER: ParticipantTimer = { kind: 'sweep' }
const readTimer = (read: { reqId: number; from: string }): ParticipantTimer => ({ kind: 'read', reqId: read.reqId, from: read.from })
const DEFAULT_MAX_WAITING_READS = 10_000

/**
 * A participant's side of 2PC as a pure state machine. It holds the committed
 * replica in memory (LevelDB is its durable copy), the prepared transactions
 * and their key locks. No I/O, no clock: time comes with each event.
 */
export class ParticipantMachine {
  readonly options: ParticipantOptions
  state: ParticipantState
  private out: ParticipantEffect[] = []
  private now = 0
  /** Paxos Commit's roles (resource manager, acceptor, recovery leader); undefined under 2PC. */
  private readonly paxos: ParticipantPaxos | undefined

  constructor(options: ParticipantOptions, state?: ParticipantState) {
    this.options = options
    this.state = state ?? {
      started: false,
      connected: [],
      nextToken: 1,
      kv: new Map(),
      prepared: new Map(),
      locks: new Map(),
      resolved: new Map(),
      reads: new Map(),
      waitingReads: 0,
      pending: new Map(),
      acceptors: new Map(),
      leading: new Map(),
      refusing: new Map(),
      after: new Map(),
      confirmations: new Map(),
      ...(options.cacheBytes === undefined ? {} : { cache: newReplicaCache(options.cacheBytes) }),
    }
    this.paxos = options.protocol === 'paxos-commit' ? this.paxosRole() : undefined
  }

  private paxosRole(): ParticipantPaxos {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the host reads the machine's current state and clock
    const machine = this
    return new ParticipantPaxos({
      get state() {
        return machine.state
      },
      options: this.options,
      get now() {
        return machine.now
      },
      emit: (effect) => {
        this.out.push(effect)
      },
      persist: (kind, sync, ops, txId) => this.persist(kind, sync, ops, txId),
      learn: (txId, outcome) => {
        this.learn(txId, outcome)
      },
    })
  }

  private learn(txId: string, outcome: Outcome): void {
    if (outcome === 'committed') this.onCommit(txId)
    else this.onAbort(txId)
  }

  /** A read-only view for the inspection API (raft's Status()): routes never reach into the state. */
  status(): ParticipantStatus {
    const s = this.state
    // Version floors held beside the keys are not counted: an operator asks which keys are held.
    let locks = 0
    for (const key of s.locks.keys()) if (!isFloorKey(key)) locks++
    // keys: the entries in memory (all of the replica, or what its cache holds).
    const status: ParticipantStatus = { started: s.started, keys: s.kv.size, prepared: [...s.prepared.keys()], locks, remembered: s.resolved.size, readsWaiting: s.waitingReads }
    if (s.cache) status.cache = { maxBytes: s.cache.maxBytes, bytes: s.cache.bytes, complete: s.cache.complete, absent: s.cache.absent.size, loads: s.cache.loads.size, scans: s.cache.scans.size }
    return status
  }

  /** Every prepared transaction waiting for its outcome, for `GET /v1/in-doubt`. */
  inDoubt(now: number): InDoubtTxn[] {
    return describeInDoubt(this.state, now, this.options)
  }

  step(event: ParticipantEvent): ParticipantEffect[] {
    this.out = []
    this.now = event.now
    switch (event.type) {
      case 'start':
        this.onStart(event.entries, event.prepared, event.resolved, event.acceptors ?? [], event.complete)
        break
      case 'connected': {
        const coordinator = event.coordinator ?? COORDINATOR_NODE
        if (!this.state.connected.includes(coordinator)) this.state.connected.push(coordinator)
        this.queryInDoubt((txn) => coordinatorOf(txn.txId) === coordinator)
        break
      }
      case 'disconnected': {
        const coordinator = event.coordinator ?? COORDINATOR_NODE
        this.state.connected = this.state.connected.filter((c) => c !== coordinator)
        this.dropReads(coordinator)
        break
      }
      case 'message':
        this.onMessage(event.msg, event.from ?? COORDINATOR_NODE)
        break
      case 'timer':
        this.onTimer(event.timer)
        break
      case 'persisted':
        this.onPersisted(event.token)
        break
      case 'loaded':
        this.onLoaded(event.id, event.entries)
        break
      case 'scanned':
        this.onScanned(event.id, event.entries, event.more)
        break
    }
    if (this.state.cache) evict(this.state.kv, this.state.cache, this.state.locks)
    assertSendable('participant', this.out, explainToCoordinator)
    assertSendable('participant', this.out, explainToParticipant, 'sendPeer')
    assertParticipantEffects(this.state, this.out, this.options)
    if (this.options.checkInvariants === true) assertParticipantState(this.state)
    return this.out
  }

  private onStart(entries: [string, { value: string; version: number }][], prepared: PreparedRecord[], resolved: ResolvedRecord[], acceptors: AcceptorRecord[], complete: boolean | undefined): void {
    const s = this.state
    s.started = true
    for (const [key, entry] of entries) this.setEntry(key, entry)
    if (s.cache && complete === true) s.cache.complete = true
    for (const record of resolved) s.resolved.set(record.txId, record)
    for (const record of prepared) {
      // In doubt: keep the locks until the coordinator tells us the outcome.
      const { txId, writes, preparedAt } = record
      const txn: PreparedTxn = { txId, writes, preparedAt, versions: mapFromObject(record.versions), phase: 'prepared', abortRequested: false, lastQueryAt: this.now }
      if (record.floors) txn.floors = mapFromObject(record.floors)
      s.prepared.set(txId, txn)
      for (const key of lockedKeys(txn)) s.locks.set(key, record.txId)
      this.log('warn', 'transaction in doubt after restart', { txId: record.txId })
    }
    this.paxos?.restarted(acceptors)
    this.out.push({ type: 'setTimer', timer: SWEEP_TIMER, afterMs: this.options.sweepIntervalMs })
  }

  /** Whether the link to this transaction's coordinator is up. */
  private coordinatorConnected(txId: string): boolean {
    return this.state.connected.includes(coordinatorOf(txId))
  }

  /** To the coordinator that started the transaction (named in its id). */
  private toCoordinator(msg: Extract<ToCoordinator, { txId: string }>): void {
    this.out.push({ type: 'send', to: coordinatorOf(msg.txId), msg })
  }

  private onMessage(msg: ToParticipant, from: string): void {
    switch (msg.type) {
      case 'prepare':
        this.onPrepare(msg)
        break
      case 'commit':
        this.onCommit(msg.txId)
        break
      case 'abort':
        this.onAbort(msg.txId)
        break
      case 'read':
        this.onRead({ reqId: msg.reqId, key: msg.key, from })
        break
      case 'list':
        this.onList({ reqId: msg.reqId, from, list: { prefix: msg.prefix, after: msg.after, limit: msg.limit } })
        break
      case 'statusQuery':
        this.out.push({ type: 'send', to: from, msg: { type: 'statusResult', reqId: msg.reqId, txId: msg.txId, state: this.txnState(msg.txId) } })
        break
      case 'admission':
        // Admission of the replica belongs to the adapter (replica-identity.ts).
        break
      default:
        if (this.paxos) this.paxos.onMessage(msg)
        else this.log('warn', `${msg.type} message under 2PC; ignored`, { txId: msg.txId })
    }
  }

  /**
   * What this participant knows of a transaction, for a status lookup at a coordinator that does not
   * own it. Only decided outcomes are reported as such: a NO still being made durable is not one yet.
   */
  private txnState(txId: string): ParticipantTxnState {
    const phase = this.state.prepared.get(txId)?.phase
    if (phase === 'applying') return 'committed'
    if (phase === 'aborting') return 'aborted'
    if (phase !== undefined) return 'prepared'
    return this.state.resolved.get(txId)?.outcome ?? 'unknown'
  }

  // ---- phase 1 ------------------------------------------------------------------

  private onPrepare(msg: PrepareMsg): void {
    const { txId, writes } = msg
    const s = this.state
    const known = s.prepared.get(txId)
    if (known) {
      // Duplicate PREPARE: repeat the vote if it was already cast.
      if (known.phase === 'prepared') this.voteYes(known)
      return
    }
    const resolved = s.resolved.get(txId)
    if (resolved) {
      if (resolved.outcome === 'aborted') this.voteNo(txId, { code: 'already_resolved', message: abortReasons.already_resolved.message })
      return
    }
    // Paxos Commit: its NO is being made durable; a YES now (the conflict may be gone) would contradict it.
    if (s.refusing.has(txId)) return
    // A replica larger than memory: the keys' committed versions first (replica-cache.ts).
    if (this.parkUntilLoaded({ kind: 'prepare', msg }, writes.map((w) => w.key))) return
    // Paxos Commit: a recovery leader got here first, so this participant's ballot 0 cannot win any more.
    let floors = new Map<string, number>()
    // The floors after the keys' checks: a key held by another transaction may not be in a replica cache.
    const refusal = this.paxos?.promisedAway(txId) === true
      ? { code: 'already_resolved' as const, message: 'a recovery of this transaction began before its PREPARE arrived' }
      : this.checkWrites(txId, writes) ?? this.checkFloors(txId, writes, (floors = this.floorsOf(writes)))
    if (refusal) {
      if (this.paxos) this.paxos.refuse(txId, refusal)
      else this.voteNo(txId, refusal)
      return
    }
    const versions: Versions = new Map()
    for (const w of writes) versions.set(w.key, this.nextVersion(w))
    const txn: PreparedTxn = { txId, writes, versions, preparedAt: this.now, phase: 'logging', abortRequested: false, lastQueryAt: this.now }
    if (floors.size > 0) txn.floors = floors
    for (const key of lockedKeys(txn)) {
      const holder = s.locks.get(key)
      if (holder !== undefined) (txn.handedFrom ??= new Map()).set(key, holder)
    }
    s.prepared.set(txId, txn)
    // Locks are taken now, before the record is durable, so that concurrent PREPAREs conflict. A
    // committed holder still writing its apply hands its lock on: a client that writes the same key
    // right after being told "committed" must not meet a conflict with its own finished transaction.
    for (const key of lockedKeys(txn)) s.locks.set(key, txId)
    const record: PreparedRecord = { txId, writes, versions: objectFromMap(versions), preparedAt: this.now }
    if (txn.floors) record.floors = objectFromMap(txn.floors)
    const ops: StoreOp[] = [{ type: 'put', key: preparedKey(txId), value: record }]
    // Paxos Commit: its own acceptance of `prepared` at ballot 0 rides in the same batch.
    const acceptance = this.paxos?.ownAcceptance(txId)
    if (acceptance) ops.push(acceptance)
    this.persist('prepare', this.options.unsafeBugs?.prepareWithoutSync !== true, ops, txId)
    if (this.options.unsafeBugs?.voteBeforeDurable === true) {
      txn.phase = 'prepared'
      this.voteYes(txn)
    }
  }

  /** Why this participant must vote NO, if it must: a client id's claim first (see client-id-claim.ts), then the client's keys. */
  private checkWrites(txId: string, writes: Write[]): VoteReason | undefined {
    const claims = writes.filter((w) => isClaimKey(w.key))
    return this.checkWriteSet(txId, claims) ?? this.checkWriteSet(txId, claims.length === 0 ? writes : writes.filter((w) => !isClaimKey(w.key)))
  }

  private checkWriteSet(txId: string, writes: Write[]): VoteReason | undefined {
    for (const w of writes) {
      const holder = this.state.locks.get(w.key)
      if (holder !== undefined && holder !== txId && this.state.prepared.get(holder)?.phase !== 'applying') {
        return { code: 'conflict', key: w.key, message: `key is held by prepared transaction ${holder}` }
      }
    }
    for (const w of writes) {
      const version = this.versionOf(w.key)
      if (w.ifAbsent === true && version !== 0) {
        const why: VoteReason = { code: 'precondition_failed', key: w.key, message: `key exists at version ${version}` }
        // The claim's value tells the coordinator which transaction holds the id, and with which writes.
        if (isClaimKey(w.key)) why.found = this.valueOf(w.key)
        return why
      }
      if (w.ifVersion !== undefined && w.ifVersion !== version) {
        return { code: 'precondition_failed', key: w.key, message: `expected version ${w.ifVersion}, found ${version}` }
      }
    }
    return undefined
  }

  /**
   * The version floors this transaction must hold (version-floor.ts): a key
   * created afresh takes its version from its bucket's floor, which must not
   * move meanwhile; a delete raises the floor to the version it gives the key.
   * Overwrites of live keys and reserved keys take none.
   */
  private floorsOf(writes: Write[]): Map<string, number> {
    const floors = new Map<string, number>()
    for (const w of writes) {
      if (isReservedKey(w.key) || (!isDelete(w) && this.versionOf(w.key) > 0)) continue
      const key = floorKey(w.key)
      const floor = floors.get(key) ?? this.floorOf(key)
      floors.set(key, isDelete(w) ? Math.max(floor, this.nextVersion(w)) : floor)
    }
    return floors
  }

  /** A floor is locked as a key is: held by another prepared transaction, it is a conflict. */
  private checkFloors(txId: string, writes: Write[], floors: Map<string, number>): VoteReason | undefined {
    for (const key of floors.keys()) {
      const holder = this.state.locks.get(key)
      if (holder === undefined || holder === txId || this.state.prepared.get(holder)?.phase === 'applying') continue
      const write = writes.find((w) => !isReservedKey(w.key) && floorKey(w.key) === key)!
      return { code: 'conflict', key: write.key, message: `prepared transaction ${holder} creates or deletes another key of this key's version bucket` }
    }
    return undefined
  }

  /**
   * The version a write gives its key, a delete included (the key is absent
   * at it): one more than the live version, or than its bucket's floor for a
   * key that is absent. So every committed write of a key has its own
   * version, and they only go up.
   */
  private nextVersion(w: Write): number {
    const live = this.versionOf(w.key)
    if (live > 0 || isReservedKey(w.key)) return live + 1
    return this.floorOf(floorKey(w.key)) + 1
  }

  /** A bucket's floor as the next transaction must see it: an apply still being written counts (as in versionOf). */
  private floorOf(key: string): number {
    const holder = this.state.locks.get(key)
    const applying = holder === undefined ? undefined : this.state.prepared.get(holder)
    if (applying?.phase === 'applying') return applying.floors!.get(key)!
    return this.state.kv.get(key)?.version ?? 0
  }

  /**
   * A key's version as the next transaction must see it (0: absent): a committed
   * transaction whose apply is still being written hands its lock on at once
   * (see onPrepare), so its version counts, unless it deletes the key: the key
   * is then absent, and a write after it counts on from the floor that delete
   * raised (the swarm found replicas disagreeing there: one that saw the
   * delete applied gave floor + 1, one that saw it being written gave the
   * deleted version + 1). The new PREPARED record goes to the store after that
   * apply and is never durable before it.
   */
  private versionOf(key: string): number {
    const holder = this.state.locks.get(key)
    const applying = holder === undefined ? undefined : this.state.prepared.get(holder)
    if (applying?.phase === 'applying') return deletesLast(applying.writes, key) ? 0 : applying.versions.get(key)!
    this.assertCached(key)
    return this.state.kv.get(key)?.version ?? 0
  }

  /** A replica cache answers for every key the machine reads that no apply being written gives (replica-cache.ts). */
  private assertCached(key: string): void {
    const cache = this.state.cache
    if (cache) invariant(cacheHas(this.state.kv, cache, key), () => `key ${JSON.stringify(key)} was read, and the replica cache does not hold it`)
  }

  /** A key's value as the next transaction must see it (as versionOf), for a key that exists. */
  private valueOf(key: string): string {
    const holder = this.state.locks.get(key)
    const applying = holder === undefined ? undefined : this.state.prepared.get(holder)
    if (applying?.phase === 'applying') {
      const write = applying.writes.find((w) => w.key === key)!
      invariant(!isDelete(write), () => `the value of ${JSON.stringify(key)} was asked, and ${applying.txId} deletes it`)
      return write.value
    }
    this.assertCached(key)
    return this.state.kv.get(key)!.value
  }

  private voteYes(txn: PreparedTxn): void {
    this.toCoordinator({ type: 'vote', txId: txn.txId, yes: true, versions: objectFromMap(txn.versions) })
  }

  private voteNo(txId: string, why: VoteReason): void {
    this.log('debug', 'vote no', { txId, code: why.code })
    this.toCoordinator({ type: 'vote', txId, yes: false, reason: why })
  }

  // ---- phase 2 ------------------------------------------------------------------

  private onCommit(txId: string): void {
    const txn = this.state.prepared.get(txId)
    if (!txn) {
      const resolved = this.state.resolved.get(txId)
      if (resolved?.outcome === 'aborted') {
        this.log('error', 'COMMIT for a transaction this participant aborted; ignored', { txId })
        return
      }
      // Applied before (the marker may be past retention): acknowledge again.
      this.toCoordinator({ type: 'ack', txId })
      return
    }
    if (txn.phase !== 'prepared') {
      if (txn.phase === 'logging') this.log('error', 'COMMIT before this participant voted; ignored', { txId })
      return
    }
    txn.phase = 'applying'
    // Writes, version bumps, the PREPARED record's removal and the marker: one atomic batch.
    const ops: StoreOp[] = txn.writes.map((w) => isDelete(w)
      ? { type: 'del', key: entryKey(w.key) }
      : { type: 'put', key: entryKey(w.key), value: { value: w.value, version: txn.versions.get(w.key)! } satisfies Entry })
    for (const [key, floor] of this.raisedFloors(txn)) ops.push({ type: 'put', key: entryKey(key), value: floor })
    ops.push({ type: 'del', key: preparedKey(txId) })
    ops.push({ type: 'put', key: resolvedKey(txId), value: { txId, outcome: 'committed', at: this.now } satisfies ResolvedRecord })
    this.paxos?.forget(txId, ops)
    this.persist('apply', true, ops, txId)
  }

  private onAbort(txId: string): void {
    const txn = this.state.prepared.get(txId)
    if (!txn) {
      if (this.state.resolved.get(txId)?.outcome === 'committed') {
        this.log('error', 'ABORT for a transaction this participant committed; ignored', { txId })
        return
      }
      // Remember it, so that a PREPARE arriving late is refused.
      this.remember({ txId, outcome: 'aborted', at: this.now })
      const ops: StoreOp[] = []
      this.paxos?.forget(txId, ops)
      if (ops.length > 0) this.persist('abort', false, [...ops, { type: 'put', key: resolvedKey(txId), value: this.state.resolved.get(txId)! }], txId)
      return
    }
    if (txn.phase === 'logging') txn.abortRequested = true
    else if (txn.phase === 'prepared') this.startAbort(txn)
  }

  private startAbort(txn: PreparedTxn): void {
    txn.phase = 'aborting'
    // No fsync: if the removal is lost, recovery finds the record and asks again.
    const ops: StoreOp[] = [
      { type: 'del', key: preparedKey(txn.txId) },
      { type: 'put', key: resolvedKey(txn.txId), value: { txId: txn.txId, outcome: 'aborted', at: this.now } satisfies ResolvedRecord },
    ]
    this.paxos?.forget(txn.txId, ops)
    this.persist('abort', false, ops, txn.txId)
  }

  private onPersisted(token: number): void {
    const pending = this.state.pending.get(token)
    if (!pending) return
    this.state.pending.delete(token)
    this.paxos?.persisted(token)
    if (pending.kind === 'abort' && this.state.refusing.has(pending.txId!)) this.paxos!.refused(pending.txId!)
    const txn = pending.txId === undefined ? undefined : this.state.prepared.get(pending.txId)
    if (!txn || pending.kind === 'promise' || pending.kind === 'accept' || pending.kind === 'confirm') return
    if (pending.kind === 'prepare') {
      txn.phase = 'prepared'
      if (txn.abortRequested) this.startAbort(txn)
      else {
        this.voteYes(txn)
        this.paxos?.proposeOwnVote(txn)
      }
    } else if (pending.kind === 'apply') {
      for (const w of txn.writes) this.setEntry(w.key, isDelete(w) ? null : { value: w.value, version: txn.versions.get(w.key)! })
      for (const [key, floor] of this.raisedFloors(txn)) this.setEntry(key, floor)
      this.finish(txn, 'committed')
      this.toCoordinator({ type: 'ack', txId: txn.txId })
    } else {
      this.finish(txn, 'aborted')
    }
  }

  private finish(txn: PreparedTxn, outcome: 'committed' | 'aborted'): void {
    const s = this.state
    s.prepared.delete(txn.txId)
    this.remember({ txId: txn.txId, outcome, at: this.now })
    for (const key of lockedKeys(txn)) {
      if (s.locks.get(key) === txn.txId) {
        // An apply that was handed this lock and is still being written gets it back (see handedFrom).
        const previous = txn.handedFrom?.get(key)
        if (previous !== undefined && s.prepared.get(previous)?.phase === 'applying') s.locks.set(key, previous)
        else s.locks.delete(key)
      }
      // Reads wait until nobody holds the key: the holder now (another prepared transaction, or a
      // committed one still writing its apply) may change it, and a client may already have been
      // told it committed.
      if (!s.locks.has(key)) this.answerReads(key)
    }
    this.log('debug', `transaction ${outcome}`, { txId: txn.txId })
  }

  /** The floors a committed transaction raises, as the entries that hold them (version-floor.ts). */
  private raisedFloors(txn: PreparedTxn): [string, Entry][] {
    const raised: [string, Entry][] = []
    for (const [key, floor] of txn.floors ?? []) if (floor > (this.state.kv.get(key)?.version ?? 0)) raised.push([key, { value: '', version: floor }])
    return raised
  }

  /** A key's committed entry (null: absent) is now this: in the whole replica, or in its cache. */
  private setEntry(key: string, entry: Entry | null): void {
    const cache = this.state.cache
    if (cache) {
      cacheSet(this.state.kv, cache, key, entry)
      noteChange(cache, key, entry, inRange)
    } else if (entry === null) this.state.kv.delete(key)
    else this.state.kv.set(key, entry)
  }

  // ---- a replica larger than memory (replica-cache.ts) ----------------------------

  /**
   * Whether `request` must wait for some of `keys` to be loaded: those neither
   * in the cache nor held by a transaction (a held key's version never comes
   * from the store). It runs again from scratch once they are.
   */
  private parkUntilLoaded(request: Exclude<ParkedRequest, { kind: 'dropped' }>, keys: string[]): boolean {
    const cache = this.state.cache
    if (!cache) return false
    const missing = [...new Set(keys)].filter((key) => !this.state.locks.has(key) && !cacheHas(this.state.kv, cache, key))
    if (missing.length === 0) return false
    if (cache.loads.size + cache.scans.size >= MAX_PARKED) {
      // Bounded: the coordinator's vote or read timeout answers the client.
      this.log('warn', 'too many loads in flight; request dropped', request.kind === 'prepare' ? { txId: request.msg.txId } : { key: request.read.key })
      return true
    }
    const id = cache.nextId++
    cache.loads.set(id, { request, keys: missing })
    pin(cache, missing, 1)
    this.out.push({ type: 'load', id, keys: missing })
    return true
  }

  private onLoaded(id: number, entries: [string, Entry | null][]): void {
    const cache = this.state.cache
    const load = cache?.loads.get(id)
    invariant(cache !== undefined && load !== undefined, () => `load ${id} answered, and none is in flight`)
    invariant(entries.length === load.keys.length && entries.every(([key], i) => key === load.keys[i]), () => `load ${id} answered for other keys`)
    cache.loads.delete(id)
    pin(cache, load.keys, -1)
    fillLoaded(this.state.kv, cache, entries, this.options.unsafeBugs?.staleLoads === true)
    if (load.request.kind === 'prepare') this.onPrepare(load.request.msg)
    else if (load.request.kind === 'read') this.onRead(load.request.read)
  }

  private scan(request: Omit<PendingRead, 'key'> & { list: ListRange }, after: string): void {
    const cache = this.state.cache!
    if (cache.loads.size + cache.scans.size >= MAX_PARKED) {
      this.log('warn', 'too many loads in flight; listing dropped', { prefix: request.list.prefix })
      return
    }
    const id = cache.nextId++
    cache.scans.set(id, { request, after, changes: new Map() })
    const range = { ...request.list, after }
    this.out.push({ type: 'scan', id, prefix: range.prefix, start: scanStart(range), limit: range.limit })
  }

  private onScanned(id: number, entries: [string, Entry][], more: boolean): void {
    const cache = this.state.cache
    const scan = cache?.scans.get(id)
    invariant(cache !== undefined && scan !== undefined, () => `scan ${id} answered, and none is in flight`)
    cache.scans.delete(id)
    if (scan.dropped) return
    const { request } = scan
    const page = scannedPage(entries, more, scan.changes, this.state.locks, { ...request.list, after: scan.after }, limits.maxListBytes)
    if ('rescanAfter' in page) this.scan(request, page.rescanAfter)
    else if ('waitFor' in page) this.wait({ ...request, key: page.waitFor })
    else this.answerList(request, page)
  }

  private remember(record: ResolvedRecord): void {
    this.state.resolved.delete(record.txId)
    this.state.resolved.set(record.txId, record)
  }

  // ---- reads --------------------------------------------------------------------

  private onRead(read: PendingRead): void {
    if (this.state.locks.has(read.key)) this.wait(read)
    else if (!this.parkUntilLoaded({ kind: 'read', read }, [read.key])) this.answerRead(read, false)
  }

  /** A listing waits, as a read, for the first held key its page would show (listing.ts). */
  private onList(request: Omit<PendingRead, 'key'> & { list: ListRange }): void {
    if (this.state.cache) {
      this.scan(request, request.list.after)
      return
    }
    const page = this.page(request.list)
    if ('waitFor' in page) this.wait({ ...request, key: page.waitFor })
    else this.answerList(request, page)
  }

  private page(range: ListRange): ListPage {
    return listPage(this.state.kv, this.state.locks, range, limits.maxListBytes)
  }

  private wait(read: PendingRead): void {
    if (this.state.waitingReads >= (this.options.maxWaitingReads ?? DEFAULT_MAX_WAITING_READS)) {
      this.answerRead(read, true) // full: the coordinator answers 503 key_in_doubt, the client retries
      return
    }
    // Read-your-writes: a held key may be about to change; wait for its outcome (bounded).
    this.enqueue(read)
    this.out.push({ type: 'setTimer', timer: readTimer(read), afterMs: this.options.readWaitMs })
  }

  private enqueue(read: PendingRead): void {
    this.state.waitingReads++
    const queue = this.state.reads.get(read.key) ?? []
    queue.push(read)
    this.state.reads.set(read.key, queue)
  }

  /**
   * A read is asked on one connection and answered on it: its request id means
   * nothing on the next one (a restarted coordinator numbers its reads from 1
   * again, and would take the answer for another key's read).
   */
  private dropReads(coordinator: string): void {
    const cache = this.state.cache
    if (cache) {
      // Those waiting for the store too: their loads still fill the cache, and nobody gets an answer.
      for (const load of cache.loads.values()) if (load.request.kind === 'read' && load.request.read.from === coordinator) load.request = { kind: 'dropped' }
      for (const scan of cache.scans.values()) if (scan.request.from === coordinator) scan.dropped = true
    }
    for (const [key, queue] of this.state.reads) {
      const kept = queue.filter((read) => read.from !== coordinator)
      for (const read of queue) if (read.from === coordinator) this.out.push({ type: 'cancelTimer', timer: readTimer(read) })
      this.state.waitingReads -= queue.length - kept.length
      if (kept.length === 0) this.state.reads.delete(key)
      else this.state.reads.set(key, kept)
    }
  }

  private answerReads(key: string): void {
    const queue = this.state.reads.get(key)
    if (!queue) return
    this.state.reads.delete(key)
    this.state.waitingReads -= queue.length
    for (const read of queue) {
      if (this.state.cache) {
        // Read again, from the cache or the store, as if it came now (its deadline starts again if it must wait).
        this.out.push({ type: 'cancelTimer', timer: readTimer(read) })
        if (read.list === undefined) this.onRead(read)
        else this.onList({ reqId: read.reqId, from: read.from, list: read.list })
        continue
      }
      const page = read.list === undefined ? undefined : this.page(read.list)
      if (page !== undefined && 'waitFor' in page) {
        // The next held key of its page: wait for that one, within the same deadline.
        this.enqueue({ ...read, key: page.waitFor })
        continue
      }
      this.out.push({ type: 'cancelTimer', timer: readTimer(read) })
      if (page === undefined) this.answerRead(read, false)
      else this.answerList(read, page)
    }
  }

  /** On the link of the coordinator that asked. */
  private answerRead({ reqId, key, from, list }: PendingRead, inDoubt: boolean): void {
    const entry = this.state.kv.get(key)
    if (inDoubt) {
      // A read waits, or is refused for a full queue, only while its key is locked.
      const heldBy = this.state.locks.get(key)
      invariant(heldBy !== undefined, () => `a read of ${JSON.stringify(key)} answered in doubt, and no transaction holds the key`)
      const msg: ToCoordinator = list === undefined ? { type: 'readResult', reqId, entry: null, inDoubt: true, heldBy } : { type: 'listResult', reqId, entries: [], more: true, inDoubt: true, heldBy }
      this.out.push({ type: 'send', to: from, msg })
      return
    }
    invariant(list === undefined, () => `a listing answered as a read of ${JSON.stringify(key)}`)
    this.out.push({ type: 'send', to: from, msg: { type: 'readResult', reqId, entry: entry ? { value: entry.value, version: entry.version } : null } })
  }

  private answerList({ reqId, from }: Pick<PendingRead, 'reqId' | 'from'>, page: Exclude<ListPage, { waitFor: string }>): void {
    this.out.push({ type: 'send', to: from, msg: { type: 'listResult', reqId, entries: page.entries, more: page.more } })
  }

  // ---- timers ---------------------------------------------------------------------

  private onTimer(timer: ParticipantTimer): void {
    if (timer.kind === 'sweep') {
      this.reportInDoubt()
      this.queryInDoubt((txn) => this.now - txn.lastQueryAt >= this.options.queryAfterMs)
      this.collectGarbage()
      this.out.push({ type: 'setTimer', timer: SWEEP_TIMER, afterMs: this.options.sweepIntervalMs })
      return
    }
    if (timer.kind === 'recover') {
      this.paxos?.onRecoverTimer(timer.txId)
      return
    }
    for (const [key, queue] of this.state.reads) {
      const index = queue.findIndex((r) => r.reqId === timer.reqId && r.from === timer.from)
      if (index < 0) continue
      const [read] = queue.splice(index, 1)
      this.state.waitingReads--
      if (queue.length === 0) this.state.reads.delete(key)
      this.answerRead(read!, true)
      return
    }
  }

  /** Blocking is shown, not hidden: a warning while prepared transactions wait past queryAfterMs. */
  private reportInDoubt(): void {
    let count = 0
    let oldestAgeMs = 0
    for (const txn of this.state.prepared.values()) {
      const ageMs = this.now - txn.preparedAt
      if (txn.phase !== 'prepared' || ageMs < this.options.queryAfterMs) continue
      count++
      oldestAgeMs = Math.max(oldestAgeMs, ageMs)
    }
    if (count > 0) this.log('warn', 'transactions in doubt', { inDoubt: count, oldestAgeMs, coordinatorsConnected: this.state.connected })
  }

  /** Ask each in-doubt transaction's coordinator, if its link is up, for the outcome. */
  private queryInDoubt(due: (txn: PreparedTxn) => boolean): void {
    if (this.state.connected.length === 0) return
    for (const txn of this.state.prepared.values()) {
      if (txn.phase !== 'prepared' || !due(txn) || !this.coordinatorConnected(txn.txId)) continue
      txn.lastQueryAt = this.now
      this.toCoordinator({ type: 'query', txId: txn.txId })
    }
  }

  private collectGarbage(): void {
    const cutoff = this.now - this.options.retentionMs
    const overflow = this.state.resolved.size - this.options.maxRemembered
    const ops: StoreOp[] = []
    let dropped = 0
    for (const record of this.state.resolved.values()) {
      if (record.at >= cutoff && dropped >= overflow) break
      // Paxos Commit: a marker answers for a forgotten acceptor record; it stays while a peer may be in doubt.
      if (this.paxos?.mayForget(record) === false) continue
      this.state.resolved.delete(record.txId)
      ops.push({ type: 'del', key: resolvedKey(record.txId) })
      dropped++
    }
    this.paxos?.askPeers()
    if (ops.length > 0) this.persist('gc', false, ops)
  }

  private persist(kind: ParticipantPersistKind, sync: boolean, ops: StoreOp[], txId?: string): number {
    const effect = persistEffect(this.state, kind, sync, ops, txId)
    this.out.push(effect)
    return effect.token
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.out.push(logEffect(level, msg, fields))
  }
}

/** The keys a prepared transaction locks: its writes' and the version floors it holds. */
function lockedKeys(txn: PreparedTxn): string[] {
  const keys = txn.writes.map((w) => w.key)
  if (txn.floors) keys.push(...txn.floors.keys())
  return keys
}

export interface ParticipantStatus {
  started: boolean
  keys: number
  /** Transactions with a PREPARED record, or writing one. */
  prepared: string[]
  locks: number
  remembered: number
  /** Reads held until a prepared transaction on their key resolves. */
  readsWaiting: number
  /** A replica larger than memory: the cache's budget and use (estimated bytes), whether it holds the whole replica, keys known absent, loads and scans in flight. */
  cache?: { maxBytes: number; bytes: number; complete: boolean; absent: number; loads: number; scans: number }
}

export interface InDoubtTxn {
  txId: string
  ageMs: number
  keys: string[]
  phase: string
  /**
   * Paxos Commit: the recovery this node knows of: the one it leads (with its
   * phase and how many ballots it started), or else the highest ballot its
   * acceptor promised, and whose it is.
   */
  recovery?: { leader: string; ballot: number; phase?: 'promising' | 'accepting'; rounds?: number }
}

/** What `GET /v1/in-doubt` lists: every prepared transaction waiting for its outcome. */
export function describeInDoubt(state: ParticipantState, now: number, options: Pick<ParticipantOptions, 'name' | 'participants' | 'coordinators'> = {}): InDoubtTxn[] {
  return [...state.prepared.values()]
    .filter((t) => t.phase !== 'logging')
    .map((t) => {
      const described: InDoubtTxn = { txId: t.txId, ageMs: now - t.preparedAt, keys: t.writes.map((w) => w.key), phase: t.phase }
      const recovery = recoveryOf(state, t.txId, options)
      if (recovery) described.recovery = recovery
      return described
    })
}

function recoveryOf(state: ParticipantState, txId: string, { name, participants, coordinators }: Pick<ParticipantOptions, 'name' | 'participants' | 'coordinators'>): InDoubtTxn['recovery'] {
  if (name === undefined || participants === undefined) return undefined
  const leading = state.leading.get(txId)
  if (leading) return { leader: name, ballot: leading.ballot, phase: leading.phase, rounds: leading.rounds }
  const promised = state.acceptors.get(txId)?.promised ?? 0
  return promised > 0 ? { leader: ballotOwner({ coordinators: coordinators ?? [COORDINATOR_NODE], participants }, promised)!, ballot: promised } : undefined
}

/** Whether the last of `writes` to `key` deletes it (a transaction may write a key more than once: the last write is what it leaves). */
function deletesLast(writes: readonly Write[], key: string): boolean {
  const last = writes.findLast((w) => w.key === key)
  return last !== undefined && isDelete(last)
}
