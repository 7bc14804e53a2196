import { abortReasons } from '../abort-reasons.ts'
import { explainToParticipant } from '../protocol/codec.ts'
import { assertSendable } from '../protocol/sendable.ts'
import { logEffect, persistEffect } from '../protocol/persist.ts'
import { coordinatorOf, formatTxId } from '../protocol/tx-id.ts'
import { lookupLearned, lookupsLost, lookupTimedOut, onLookupPhase1b, onLookupPhase2b, onStatusResult, startLookup, type LookupLeading } from './lookups.ts'
import { claimKey, claimValue, isReservedKey, parseClaim } from '../protocol/client-id-claim.ts'
import { coordinatorMinRound, leaderCount, leaderIndex, nextBallot, quorumSize, ROUNDS_PER_EPOCH, type Leaders } from '../paxos/ballot.ts'
import { beginBallot, neededAcceptances, onAccepted, onPromise } from '../paxos/leader.ts'
import { invariant } from '../protocol/invariant.ts'
import { describeByClientId, describeTxn, type TxnDescription } from './describe.ts'
import { assertCoordinatorEffects, assertCoordinatorState } from './invariants.ts'
import { sameWrites, writesDigest } from '../protocol/hash.ts'
import { mapFromObject, objectFromMap } from '../protocol/keyed-object.ts'
import { decisionKey, epochKey } from '../record-keys.ts'
import { COORDINATOR_NODE, type Phase1bMsg, type Phase2bMsg, type ToCoordinator, type ToParticipant } from '../protocol/messages.ts'
import type { AbortReason, Entry, Outcome, Write } from '../protocol/types.ts'
import type { StoreOp } from '../store.ts'
import type { CoordinatorTimer } from '../protocol/timers.ts'
import type {
  CoordinatorEffect,
  CoordinatorPersistKind,
  CoordinatorEvent,
  CoordinatorOptions,
  CoordinatorState,
  DecisionRecord,
  EpochRecord,
  ListedPage,
  ReplyBody,
  Txn,
  TxnResult,
} from './types.ts'

const voteTimer = (txId: string): CoordinatorTimer => ({ kind: 'vote', txId })
const GC_TIMER: CoordinatorTimer = { kind: 'gc' }
const DEFAULT_MAX_RESENDS_PER_STEP = 1024
const RESEND_PACE_MS = 10
const DEFAULT_MAX_WAITERS_PER_TXN = 16
const DEFAULT_READ_TIMEOUT_MS = 5000

export interface CoordinatorStatus {
  epoch: number
  inFlight: number
  remembered: number
  connected: string[]
}


/**
 * The coordinator's 2PC logic (presumed abort) as a pure state machine.
 * `step(event)` mutates `state` and returns the effects to perform, in order.
 * No I/O, no clock, no randomness: time comes in with each event.
 */
export class CoordinatorMachine {
  readonly options: CoordinatorOptions
  state: CoordinatorState
  private out: CoordinatorEffect[] = []
  private now = 0
  private readonly paxos: boolean
  /** Its name, in its transaction ids and in the `from` of its messages. */
  readonly name: string
  private readonly leaders: Leaders

  constructor(options: CoordinatorOptions, state?: CoordinatorState) {
    this.options = options
    this.paxos = options.protocol === 'paxos-commit'
    this.name = options.name ?? COORDINATOR_NODE
    this.leaders = { coordinators: options.coordinators ?? [this.name], participants: options.participants }
    invariant(this.leaders.coordinators.includes(this.name), () => `coordinator ${this.name} is not among the coordinators ${this.leaders.coordinators.join(',')}`)
    this.state = state ?? {
      epoch: 0,
      nextSeq: 1,
      nextToken: 1,
      epochs: [],
      connected: [],
      txns: new Map(),
      byClientId: new Map(),
      pending: new Map(),
      confirming: new Map(),
      inFlight: 0,
      reads: new Map(),
      lookups: new Map(),
      lookupBallot: 0,
      readCursor: 0,
    }
  }

  /** A read-only view for the API (raft's Status()): routes never reach into the state. */
  status(): CoordinatorStatus {
    const s = this.state
    return { epoch: s.epoch, inFlight: s.inFlight, remembered: s.txns.size, connected: [...s.connected] }
  }

  /** What `GET /v1/transactions/:txId` shows, or undefined when nothing is known of it. */
  describe(txId: string, now: number): TxnDescription | undefined {
    return describeTxn(this.state, this.options.participants, txId, now, this.options.retentionMs, this.name)
  }

  /** The same, looked up by client id. */
  describeClient(clientId: string): TxnDescription | undefined {
    return describeByClientId(this.state, this.options.participants, clientId)
  }

  step(event: CoordinatorEvent): CoordinatorEffect[] {
    this.out = []
    this.now = event.now
    switch (event.type) {
      case 'start':
        this.onStart(event.epoch, event.epochs, event.records)
        break
      case 'read':
        this.onRead(event.reqId, { type: 'read', reqId: event.reqId, key: event.key })
        break
      case 'list':
        this.onRead(event.reqId, { type: 'list', reqId: event.reqId, prefix: event.prefix, after: event.after, limit: event.limit })
        break
      case 'lookup':
        this.onLookup(event.reqId, event.txId)
        break
      case 'request':
        this.onRequest(event.reqId, event.writes, event.clientId, event.timeoutMs)
        break
      case 'connected':
        this.onConnected(event.participant)
        break
      case 'disconnected':
        this.onDisconnected(event.participant)
        break
      case 'message':
        this.onMessage(event.from, event.msg)
        break
      case 'timer':
        this.onTimer(event.timer)
        break
      case 'persisted':
        this.onPersisted(event.token)
        break
    }
    assertSendable('coordinator', this.out, explainToParticipant)
    assertCoordinatorEffects(this.state, this.out)
    if (this.options.checkInvariants === true) assertCoordinatorState(this.state, this.options)
    return this.out
  }

  // ---- recovery -------------------------------------------------------------

  private onStart(epoch: number, epochs: EpochRecord[], records: DecisionRecord[]): void {
    const s = this.state
    s.epoch = epoch
    s.epochs = epochs
    let unfinished = 0
    for (const record of records) {
      const txn = txnFromRecord(record)
      s.txns.set(txn.txId, txn)
      if (txn.clientId !== undefined) s.byClientId.set(txn.clientId, txn.txId)
      if (txn.phase === 'committed' && !txn.ended) unfinished++
      if (record.outcome === 'undecided' && this.paxos) {
        // Paxos Commit: the acceptors may have chosen either outcome meanwhile. Find out as a recovery leader.
        txn.phase = 'preparing'
        txn.ended = false
        s.inFlight++
        this.out.push({ type: 'setTimer', timer: voteTimer(txn.txId), afterMs: this.options.defaultTimeoutMs })
      } else if (record.outcome === 'undecided') {
        // Started before the crash, never decided: presumed abort, now recorded for retries.
        txn.reasons = [{ participant: 'coordinator', code: 'coordinator_restarted', message: abortReasons.coordinator_restarted.message }]
        txn.decidedAt = this.now
        this.persist('abort-decision', false, [{ type: 'put', key: decisionKey(txn.txId), value: recordOf(txn) }], txn.txId)
      }
    }
    this.log('info', 'coordinator recovered its decision log', { epoch, records: records.length, unfinished })
    this.out.push({ type: 'setTimer', timer: GC_TIMER, afterMs: this.options.gcIntervalMs })
  }

  // ---- client requests --------------------------------------------------------

  private onRequest(reqId: number, writes: Write[], clientId?: string, timeoutMs?: number): void {
    const s = this.state
    if (clientId !== undefined) {
      const existing = s.txns.get(s.byClientId.get(clientId) ?? '')
      if (existing) {
        this.onRetry(reqId, existing, writes)
        return
      }
    }
    if (s.inFlight >= this.options.maxInFlight) {
      this.out.push({ type: 'reply', reqId, body: { ok: false, error: 'overloaded' } })
      return
    }
    const txId = formatTxId(this.name, s.epoch, s.nextSeq++)
    // Only a client id is ever matched against it: no digest to compute without one.
    const digest = clientId === undefined ? '' : writesDigest(writes)
    const claim = clientId !== undefined && this.options.clientIdClaims === true ? [{ key: claimKey(clientId), value: claimValue({ txId, digest }), ifAbsent: true }] : []
    const txn = newTxn(txId, this.now, {
      writes: [...writes, ...claim],
      writesHash: digest,
      keys: writes.map((w) => w.key),
      waiters: [reqId],
      recovered: false,
    })
    s.txns.set(txId, txn)
    if (clientId !== undefined) {
      txn.clientId = clientId
      s.byClientId.set(clientId, txId)
      // 2PC: no fsync of its own: it rides the WAL and is synced by the next synced batch (at the latest,
      // this transaction's commit decision). Lost only if never decided — then a retry runs it afresh,
      // which is safe because nothing of it was applied. Paxos Commit: the acceptors may choose commit
      // without this coordinator writing anything synced, so a retry after a power loss would run the
      // writes twice: the record is synced, and the PREPAREs wait for it.
      this.persist('begin', this.paxos, [{ type: 'put', key: decisionKey(txId), value: recordOf(txn) }], txId)
    }
    s.inFlight++
    this.log('debug', 'transaction started', { txId, keys: txn.keys.length })

    const missing = this.options.participants.filter((p) => !s.connected.includes(p))
    if (missing.length > 0) {
      this.abort(txn, missing.map((p) => reason(p, 'participant_unavailable')))
      return
    }
    if (!(this.paxos && clientId !== undefined)) this.sendPrepares(txn)
    this.out.push({ type: 'setTimer', timer: voteTimer(txId), afterMs: timeoutMs ?? this.options.defaultTimeoutMs })
  }

  private sendPrepares(txn: Txn): void {
    for (const participant of this.options.participants) {
      this.out.push({ type: 'send', to: participant, msg: { type: 'prepare', txId: txn.txId, writes: txn.writes } })
    }
  }

  /** A request with a client id already seen: answer its outcome, never run it twice. */
  private onRetry(reqId: number, txn: Txn, writes: readonly Write[]): void {
    if (!sameWrites(txn.writesHash, writes)) {
      this.out.push({
        type: 'reply',
        reqId,
        body: { ok: false, error: 'id_conflict', message: `client id was used for transaction ${txn.txId} with other writes` },
      })
      return
    }
    this.log('debug', 'client retry answered from the transaction record', { txId: txn.txId })
    if (txn.phase === 'committed' || txn.phase === 'aborted') {
      this.out.push({ type: 'reply', reqId, body: { ok: true, result: resultOf(txn) } })
    } else if (txn.waiters.length >= (this.options.maxWaitersPerTxn ?? DEFAULT_MAX_WAITERS_PER_TXN)) {
      this.out.push({ type: 'reply', reqId, body: { ok: false, error: 'overloaded', message: `${txn.waiters.length} requests already wait for transaction ${txn.txId}; retry later` } })
    } else {
      txn.waiters.push(reqId)
    }
  }

  // ---- connectivity -----------------------------------------------------------

  private onConnected(participant: string): void {
    const s = this.state
    if (!s.connected.includes(participant)) s.connected.push(participant)
    this.resendCommits(participant, undefined)
  }

  /**
   * Re-sends COMMIT for the decided commits this participant has not
   * acknowledged, at most maxResendsPerStep at a time: the rest follow on a
   * timer, so a reconnect after a long outage does not put every one of them
   * in one step and one burst of frames.
   */
  private resendCommits(participant: string, after: string | undefined): void {
    const max = this.options.maxResendsPerStep ?? DEFAULT_MAX_RESENDS_PER_STEP
    let skipping = after !== undefined
    let sent = 0
    for (const txn of this.state.txns.values()) {
      if (skipping) {
        skipping = txn.txId !== after
        continue
      }
      if (txn.phase !== 'committed' || txn.ended || txn.acks.includes(participant)) continue
      if (sent === max) {
        this.out.push({ type: 'setTimer', timer: { kind: 'resend', participant, after: txn.txId }, afterMs: RESEND_PACE_MS })
        return
      }
      this.out.push({ type: 'send', to: participant, msg: { type: 'commit', txId: txn.txId } })
      sent++
    }
    // The mark was collected meanwhile: start again from the oldest (what was acknowledged is skipped).
    if (skipping) this.resendCommits(participant, undefined)
  }

  private onDisconnected(participant: string): void {
    const s = this.state
    s.connected = s.connected.filter((p) => p !== participant)
    // A read asked on the lost connection gets no answer: say so now rather than at its timeout.
    for (const [reqId, read] of s.reads) {
      if (read.participant !== participant) continue
      s.reads.delete(reqId)
      this.out.push({ type: 'cancelTimer', timer: { kind: 'read', reqId } })
      this.out.push({ type: 'readReply', reqId, body: { ok: false, error: 'key_in_doubt', message: `participant ${participant} disconnected before answering the read` } })
    }
    this.out.push(...lookupsLost(s, participant))
    this.out.push({ type: 'cancelTimer', timer: { kind: 'resend', participant, after: '' } })
    // A participant that has not voted cannot vote any more on this connection: abort now. (Not under
    // Paxos Commit: its vote may still be chosen through the other acceptors; the vote timer finds out.)
    if (this.paxos) return
    for (const txn of s.txns.values()) {
      if (txn.phase === 'preparing' && !txn.votes.has(participant)) {
        this.abort(txn, [reason(participant, 'participant_disconnected')])
      }
    }
  }

  // ---- status lookups -------------------------------------------------------------

  /**
   * `GET /v1/transactions/:txId` for a transaction `describe` does not know. One of this coordinator's
   * own is unknown for good (never started, or past retention: presumed abort answers the participants),
   * as is one that names no coordinator of the cluster; another coordinator's is asked of the
   * participants (lookups.ts).
   */
  private onLookup(reqId: number, txId: string): void {
    const owner = coordinatorOf(txId)
    if (owner === this.name || !this.leaders.coordinators.includes(owner)) {
      const why = owner === this.name ? 'never started, or forgotten past retention' : `no coordinator named ${owner} is in this cluster`
      this.out.push({ type: 'lookupReply', reqId, body: { ok: false, error: 'unknown_transaction', message: `${txId} is not known here (${why})` } })
      return
    }
    this.out.push(...startLookup(this.state, reqId, txId, { maxInFlight: this.options.maxInFlight, timeoutMs: this.options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS }))
  }

  // ---- reads ------------------------------------------------------------------

  /** Round-robin over the connected participants; every replica is whole, and each holds a read of a held key (or a listing) until it resolves. */
  private onRead(reqId: number, msg: Extract<ToParticipant, { type: 'read' | 'list' }>): void {
    const s = this.state
    if (s.connected.length === 0) {
      this.out.push({ type: 'readReply', reqId, body: { ok: false, error: 'no_replica' } })
      return
    }
    if (s.reads.size >= this.options.maxInFlight) {
      this.out.push({ type: 'readReply', reqId, body: { ok: false, error: 'overloaded', message: `${s.reads.size} reads are waiting for an answer; retry later` } })
      return
    }
    const participant = s.connected[s.readCursor++ % s.connected.length]!
    s.reads.set(reqId, { participant, kind: msg.type })
    this.out.push({ type: 'send', to: participant, msg })
    this.out.push({ type: 'setTimer', timer: { kind: 'read', reqId }, afterMs: this.options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS })
  }

  /** `answer` undefined: the participant could not answer (the key stayed held past its wait). */
  private onReadResult(from: string, reqId: number, kind: 'read' | 'list', answer: { entry: Entry | null } | { page: ListedPage } | undefined, heldBy?: string): void {
    const read = this.state.reads.get(reqId)
    if (read?.participant !== from) return // late (timed out), or not this participant's to answer
    if (read.kind !== kind) {
      this.log('warn', `a ${kind} answer to a ${read.kind} request; ignored`, { participant: from, reqId })
      return
    }
    this.state.reads.delete(reqId)
    this.out.push({ type: 'cancelTimer', timer: { kind: 'read', reqId } })
    this.out.push({ type: 'readReply', reqId, body: answer === undefined ? { ok: false, error: 'key_in_doubt', ...(heldBy === undefined ? {} : { heldBy }) } : { ok: true, ...answer } })
  }

  // ---- participant messages ---------------------------------------------------

  private onMessage(from: string, msg: ToCoordinator): void {
    switch (msg.type) {
      case 'vote':
        this.onVote(from, msg.txId, msg)
        break
      case 'ack':
        this.onAck(from, msg.txId)
        break
      case 'query':
        this.onQuery(from, msg.txId)
        break
      case 'readResult':
        this.onReadResult(from, msg.reqId, 'read', msg.inDoubt === true ? undefined : { entry: msg.entry }, msg.heldBy)
        break
      case 'listResult':
        this.onReadResult(from, msg.reqId, 'list', msg.inDoubt === true ? undefined : { page: { entries: msg.entries, more: msg.more } }, msg.heldBy)
        break
      case 'statusResult':
        this.out.push(...onStatusResult(this.state, from, msg.reqId, msg.txId, msg.state, this.lookupLeading))
        break
      case 'hello':
        // Connection set-up belongs to the adapter.
        break
      default:
        // Paxos Commit's messages: under 2PC this coordinator alone decides, and no participant may.
        if (!this.paxos) this.log('warn', `${msg.type} message under 2PC; ignored`, { txId: msg.txId, participant: from })
        else if (msg.type === 'phase1b') this.onPhase1b(msg)
        else if (msg.type === 'phase2b') this.onPhase2b(msg)
        else if (msg.type === 'resolved') this.onResolvedAsk(from, msg)
        else this.onOutcome(from, msg.txId, msg.outcome)
    }
  }

  /**
   * A participant wants to drop its marker of a transaction past retention,
   * and asks whether this coordinator could still lead a ballot for it: it
   * could after a power loss, from its synced begin record, if its unsynced
   * decision was lost. So the record is written again, synced (or, without
   * one, a delete is: nothing of it can come back), and then the asker is
   * told; a transaction still being decided is answered when asked again.
   */
  private onResolvedAsk(from: string, msg: Extract<ToCoordinator, { type: 'resolved' }>): void {
    // Only a transaction's own coordinator is asked: no other ever holds a record of it.
    if (!msg.ask || coordinatorOf(msg.txId) !== this.name) return
    const txn = this.state.txns.get(msg.txId)
    if (txn !== undefined && txn.phase !== 'committed' && txn.phase !== 'aborted') return
    invariant(txn === undefined || txn.phase === msg.outcome, () => `${msg.txId}: ${msg.from} resolved it ${msg.outcome}, this coordinator ${txn!.phase}`)
    const op: StoreOp = txn ? { type: 'put', key: decisionKey(txn.txId), value: recordOf(txn) } : { type: 'del', key: decisionKey(msg.txId) }
    this.state.confirming.set(this.persist('confirm', true, [op], msg.txId), { to: from, outcome: msg.outcome })
  }

  private onVote(from: string, txId: string, vote: Extract<ToCoordinator, { type: 'vote' }>): void {
    const txn = this.state.txns.get(txId)
    if (txn?.phase !== 'preparing') {
      // Late or duplicate vote. A YES holds locks at the participant: tell it the outcome.
      if (vote.yes) this.tellOutcome(from, txId, txn)
      return
    }
    if (txn.votes.has(from) || !this.options.participants.includes(from)) return
    txn.votes.set(from, vote.yes ? 'yes' : 'no')
    if (!vote.yes && txn.clientId !== undefined && vote.reason?.key === claimKey(txn.clientId) && this.onClaimTaken(txn, from, vote.reason)) return
    if (!vote.yes) {
      const r: AbortReason = {
        participant: from,
        code: vote.reason?.code ?? 'conflict',
        message: vote.reason?.message ?? abortReasons.conflict.message,
      }
      if (vote.reason?.key !== undefined) r.key = vote.reason.key
      this.abort(txn, [r])
      return
    }
    for (const [key, version] of Object.entries(vote.versions ?? {})) if (!isReservedKey(key)) txn.versions.set(key, version)
    if (this.paxos) {
      // Its YES is its own acceptance of `prepared` at ballot 0, for its own instance.
      this.acceptedAtZero(txn, from, from)
      return
    }
    if (this.options.participants.every((p) => txn.votes.get(p) === 'yes')) this.decideCommit(txn)
  }

  /**
   * A participant says this transaction's client id is claimed: by a committed transaction (the claim's
   * value names it), or by one still in doubt (it holds the claim's lock). This attempt aborts, and its
   * waiters hear about the id instead: the committed transaction, `id_conflict` if that one had other
   * writes, or `id_in_doubt`. The attempt forgets the id (a later retry asks the replicas again), and the
   * answer waits for that forgetting to be durable, so that no restart can answer the id with this
   * attempt's abort after the client heard otherwise. Returns false for a NO it cannot read.
   */
  private onClaimTaken(txn: Txn, from: string, why: NonNullable<Extract<ToCoordinator, { type: 'vote' }>['reason']>): boolean {
    const clientId = txn.clientId!
    const claim = why.code === 'precondition_failed' && why.found !== undefined ? parseClaim(why.found) : undefined
    let answer: ReplyBody
    if (claim !== undefined) {
      invariant(claim.txId !== txn.txId, () => `${txn.txId}: its own client id claim is committed while it is still preparing`)
      answer = claim.digest === txn.writesHash
        ? { ok: true, result: { txId: claim.txId, id: clientId, outcome: 'committed' } }
        : { ok: false, error: 'id_conflict', message: `client id was used for transaction ${claim.txId} with other writes` }
    } else if (why.code === 'conflict') {
      answer = { ok: false, error: 'id_in_doubt', message: `a transaction with this client id is still being decided (${why.message} at ${from}); retry later` }
    } else {
      return false
    }
    this.log('debug', 'client id already claimed: the retry is answered from the replicas', { txId: txn.txId, claimedBy: claim?.txId ?? null })
    this.forgetClientId(txn, answer)
    this.abort(txn, [{ participant: from, code: why.code, key: why.key!, message: why.message }])
    return true
  }

  /**
   * The attempt forgets its client id and answers `answer` instead of its own outcome, once its abort
   * record is durable (see onClaimTaken).
   */
  private forgetClientId(txn: Txn, answer: ReplyBody): void {
    const clientId = txn.clientId!
    if (this.state.byClientId.get(clientId) === txn.txId) this.state.byClientId.delete(clientId)
    delete txn.clientId
    txn.claimTaken = answer
  }

  /**
   * Whether some participant checked this attempt's client id and found it free (it voted YES, or NO on
   * another key: participants check the claim first). An attempt at another coordinator with the same
   * id then cannot commit without that participant, which it was not prepared at. With several
   * coordinators, an attempt that aborted before any such vote (a participant unavailable, a timeout)
   * may be a retry of one still being decided elsewhere, so its abort is no answer for the id.
   */
  private claimChecked(txn: Txn, reasons: readonly AbortReason[]): boolean {
    if ([...txn.votes.values()].includes('yes')) return true
    const claim = claimKey(txn.clientId!)
    return reasons.some((r) => r.key !== undefined && r.key !== claim && this.options.participants.includes(r.participant))
  }

  // ---- Paxos Commit -------------------------------------------------------------

  private get quorum(): number {
    return quorumSize(this.options.participants.length)
  }

  /**
   * Under Paxos Commit a status lookup that finds nobody knowing the outcome
   * leads a ballot (lookups.ts). Its ballots come from this epoch's range, each
   * above the last one any lookup led, so that no two lookups (of one
   * transaction or two) share one; a restart starts a new epoch, and range.
   */
  private get lookupLeading(): LookupLeading | undefined {
    if (!this.paxos) return undefined
    const s = this.state
    return {
      name: this.name,
      nextBallot: () => {
        const ballot = nextBallot(this.leaders, leaderIndex(this.leaders, this.name), s.lookupBallot, coordinatorMinRound(s.epoch))
        // Past this epoch's rounds (a million lookups that led): no ballot rather than one of the next epoch's.
        if (ballot >= coordinatorMinRound(s.epoch + 1) * leaderCount(this.leaders)) return undefined
        s.lookupBallot = ballot
        return ballot
      },
      participants: this.options.participants,
      quorum: this.quorum,
      bugs: this.options.unsafeBugs,
    }
  }

  /** Returns true once this made the commit chosen. */
  private acceptedAtZero(txn: Txn, instance: string, acceptor: string): boolean {
    const accepted = (txn.accepted0 ??= new Map())
    const by = accepted.get(instance) ?? []
    if (!by.includes(acceptor)) by.push(acceptor)
    accepted.set(instance, by)
    const needed = neededAcceptances(this.quorum, this.options.unsafeBugs)
    // Chosen at ballot 0 in every instance: committed, with no write of its own on the critical path.
    if (!this.options.participants.every((p) => (accepted.get(p)?.length ?? 0) >= needed)) return false
    this.learn(txn, 'committed')
    return true
  }

  private onPhase2b(msg: Phase2bMsg): void {
    const txn = this.state.txns.get(msg.txId)
    if (!this.options.participants.includes(msg.from)) return
    if (txn === undefined && msg.ballot > 0) {
      this.out.push(...onLookupPhase2b(this.state, msg, this.lookupLeading!))
      return
    }
    if (txn?.phase !== 'preparing') return
    if (msg.ballot === 0) {
      for (const [instance, value] of Object.entries(msg.values)) {
        if (value === 'prepared' && this.options.participants.includes(instance) && this.acceptedAtZero(txn, instance, msg.from)) return
      }
      return
    }
    if (txn.recovery?.ballot !== msg.ballot) return
    const outcome = onAccepted(txn.recovery, msg.from, this.quorum, this.options.unsafeBugs)
    if (outcome !== undefined) this.learn(txn, outcome)
  }

  /** The vote timer fired under Paxos Commit: lead a ballot that chooses every instance (aborted where nobody accepted a vote). */
  private startBallot(txn: Txn): void {
    // The vote timer is not armed again after the last round (maxRecoveryRounds), so this never goes past it.
    const rounds = (txn.recovery?.rounds ?? 0) + 1
    const max = this.options.maxRecoveryRounds
    const above = Math.max(txn.recovery?.highestSeen ?? 0, txn.recovery?.ballot ?? 0)
    const ballot = nextBallot(this.leaders, leaderIndex(this.leaders, this.name), above, coordinatorMinRound(this.state.epoch))
    invariant(ballot < coordinatorMinRound(this.state.epoch + 1) * leaderCount(this.leaders), () => `${txn.txId}: ballot ${ballot} is past epoch ${this.state.epoch}'s ${ROUNDS_PER_EPOCH} rounds`)
    txn.recovery = beginBallot(txn.txId, ballot, rounds, above)
    this.log('info', 'vote timer fired: leading a ballot for the transaction', { txId: txn.txId, ballot })
    for (const p of this.state.connected) this.out.push({ type: 'send', to: p, msg: { type: 'phase1a', txId: txn.txId, ballot } })
    // Twice as long after each ballot that did not finish: a retry that comes before the last ballot's answers can only preempt it.
    if (max === undefined || rounds < max) this.out.push({ type: 'setTimer', timer: voteTimer(txn.txId), afterMs: this.options.defaultTimeoutMs * 2 ** Math.min(rounds, 6) })
  }

  private onPhase1b(msg: Phase1bMsg): void {
    const txn = this.state.txns.get(msg.txId)
    if (txn === undefined && this.options.participants.includes(msg.from)) {
      this.out.push(...onLookupPhase1b(this.state, msg, this.lookupLeading!))
      return
    }
    if (txn?.phase !== 'preparing' || txn.recovery?.ballot !== msg.ballot || !this.options.participants.includes(msg.from)) return
    if (msg.promised !== undefined) {
      txn.recovery.highestSeen = Math.max(txn.recovery.highestSeen, msg.promised)
      return
    }
    const values = onPromise(txn.recovery, msg.from, msg.accepted, this.options.participants, this.quorum, this.options.unsafeBugs)
    if (values === undefined) return
    for (const p of this.state.connected) this.out.push({ type: 'send', to: p, msg: { type: 'phase2a', txId: msg.txId, ballot: msg.ballot, values } })
  }

  /**
   * A participant asks about a transaction this coordinator has no record of
   * (it began before a restart, without a client id): lead a ballot for it.
   * Nothing is presumed under Paxos Commit; the acceptors know what was chosen.
   */
  private recoverUnknown(txId: string): void {
    const s = this.state
    const txn = newTxn(txId, this.now, { writes: [], writesHash: '', keys: [], waiters: [], recovered: true })
    s.txns.set(txId, txn)
    s.inFlight++
    this.startBallot(txn)
  }

  private onOutcome(from: string, txId: string, outcome: Outcome): void {
    const txn = this.state.txns.get(txId)
    if (txn?.phase === 'preparing') this.learn(txn, outcome)
    // An acceptor that already knew the outcome answered a lookup's ballot with it.
    else if (txn === undefined) this.out.push(...lookupLearned(this.state, this.name, txId, outcome, from))
  }

  /** The outcome is chosen: under Paxos Commit the decision record is only a cache of it, written without sync. */
  private learn(txn: Txn, outcome: Outcome): void {
    if (outcome === 'aborted') {
      this.abort(txn, this.options.participants.filter((p) => txn.votes.get(p) !== 'yes').map((p) => reason(p, 'vote_timeout')))
      return
    }
    txn.phase = 'committed'
    txn.decidedAt = this.now
    this.out.push({ type: 'cancelTimer', timer: voteTimer(txn.txId) })
    this.persist('commit-decision', false, [{ type: 'put', key: decisionKey(txn.txId), value: recordOf(txn) }], txn.txId)
    this.commitPointPassed(txn)
  }

  private onAck(from: string, txId: string): void {
    const txn = this.state.txns.get(txId)
    if (txn?.phase !== 'committed' || txn.ended || txn.acks.includes(from)) return
    txn.acks.push(from)
    if (this.options.participants.every((p) => txn.acks.includes(p))) {
      txn.ended = true
      txn.endedAt = this.now
      // END needs no fsync: if lost, recovery re-sends COMMIT, which is idempotent.
      this.persist('end', false, [{ type: 'put', key: decisionKey(txId), value: recordOf(txn) }], txId)
      this.log('debug', 'transaction ended', { txId })
    }
  }

  private onQuery(from: string, txId: string): void {
    const txn = this.state.txns.get(txId)
    if (txn === undefined && this.paxos) {
      // Bounded like client requests: the participant asks again later. Another coordinator's transaction
      // is not this one's to lead (participants ask its own coordinator, or lead its recovery themselves).
      if (this.state.inFlight < this.options.maxInFlight && coordinatorOf(txId) === this.name) this.recoverUnknown(txId)
      return
    }
    if (txn?.phase === 'preparing') {
      // Undecided: the outcome goes to everyone once the votes are in or the vote timer (always armed while
      // preparing) fires. Aborting here cut short every transaction whose participants took longer than
      // QUERY_AFTER_MS to vote, whatever timeout the client had asked for; the participant asks again later.
      this.log('debug', 'query of a transaction still collecting votes: answered when decided', { txId, participant: from })
      return
    }
    if (txn?.phase === 'committing') return // COMMIT goes to everyone once the decision is durable
    this.tellOutcome(from, txId, txn)
  }

  private tellOutcome(to: string, txId: string, txn: Txn | undefined): void {
    if (txn?.phase === 'committing') return
    // Paxos Commit: nothing is presumed; a transaction this coordinator does not know is the acceptors' to settle.
    // Nor of another coordinator's transaction: that one decides it.
    if (txn === undefined && (this.paxos || coordinatorOf(txId) !== this.name)) return
    const type = txn?.phase === 'committed' ? 'commit' : 'abort' // unknown → presumed abort
    this.out.push({ type: 'send', to, msg: { type, txId } })
  }

  // ---- timers and storage -----------------------------------------------------

  private onTimer(timer: CoordinatorTimer): void {
    if (timer.kind === 'gc') {
      this.collectGarbage()
      this.out.push({ type: 'setTimer', timer: GC_TIMER, afterMs: this.options.gcIntervalMs })
      return
    }
    if (timer.kind === 'lookup') {
      this.out.push(...lookupTimedOut(this.state, timer.reqId))
      return
    }
    if (timer.kind === 'read') {
      const read = this.state.reads.get(timer.reqId)
      if (!read) return
      this.state.reads.delete(timer.reqId)
      this.out.push({ type: 'readReply', reqId: timer.reqId, body: { ok: false, error: 'key_in_doubt', message: `participant ${read.participant} did not answer the read in time` } })
      return
    }
    if (timer.kind === 'resend') {
      if (this.state.connected.includes(timer.participant)) this.resendCommits(timer.participant, timer.after)
      return
    }
    const txn = this.state.txns.get(timer.txId)
    if (txn?.phase !== 'preparing') return
    if (this.paxos) {
      this.startBallot(txn)
      return
    }
    const silent = this.options.participants.filter((p) => !txn.votes.has(p))
    this.abort(txn, silent.map((p) => reason(p, 'vote_timeout')))
  }

  private onPersisted(token: number): void {
    const pending = this.state.pending.get(token)
    if (!pending) return
    this.state.pending.delete(token)
    const answer = this.state.confirming.get(token)
    if (answer !== undefined) {
      // The answer to a participant's ask is durable: it may count this coordinator.
      this.state.confirming.delete(token)
      this.out.push({ type: 'send', to: answer.to, msg: { type: 'resolved', txId: pending.txId!, from: this.name, outcome: answer.outcome, ask: false } })
      return
    }
    if (pending.kind === 'begin' && this.paxos) {
      // Paxos Commit: the client id's record is durable; the transaction may start. (If the vote timer
      // fired first, its ballot is choosing aborted already: no PREPARE then.)
      const txn = this.state.txns.get(pending.txId!)
      if (txn?.phase === 'preparing' && txn.recovery === undefined) this.sendPrepares(txn)
      return
    }
    if (pending.kind === 'abort-decision') {
      const txn = this.state.txns.get(pending.txId!)
      if (txn?.claimTaken !== undefined) this.answerClaimTaken(txn, txn.claimTaken)
      return
    }
    if (pending.kind !== 'commit-decision') return
    const txn = this.state.txns.get(pending.txId!)
    if (txn?.phase !== 'committing') return
    this.commitPointPassed(txn)
  }

  /** The decision is durable: tell the client and every participant. */
  private commitPointPassed(txn: Txn): void {
    txn.phase = 'committed'
    this.state.inFlight--
    this.replyAll(txn)
    for (const participant of this.options.participants) {
      this.out.push({ type: 'send', to: participant, msg: { type: 'commit', txId: txn.txId } })
    }
    this.log('debug', 'transaction committed', { txId: txn.txId })
  }

  // ---- decisions --------------------------------------------------------------

  private decideCommit(txn: Txn): void {
    txn.phase = 'committing'
    txn.decidedAt = this.now
    this.out.push({ type: 'cancelTimer', timer: voteTimer(txn.txId) })
    this.persist('commit-decision', this.options.unsafeBugs?.decisionWithoutSync !== true, [{ type: 'put', key: decisionKey(txn.txId), value: recordOf(txn) }], txn.txId)
    if (this.options.unsafeBugs?.replyBeforeDurable === true) this.commitPointPassed(txn)
  }

  private abort(txn: Txn, reasons: AbortReason[]): void {
    const wasPreparing = txn.phase === 'preparing'
    txn.phase = 'aborted'
    txn.decidedAt = this.now
    txn.reasons = reasons
    txn.ended = true
    txn.endedAt = this.now
    this.state.inFlight--
    this.out.push({ type: 'cancelTimer', timer: voteTimer(txn.txId) })
    if (txn.clientId !== undefined && this.leaders.coordinators.length > 1 && !this.claimChecked(txn, reasons)) {
      this.forgetClientId(txn, {
        ok: false,
        error: 'id_in_doubt',
        message: `this attempt ended (${reasons.map((r) => r.code).join(', ')}) before any participant checked the client id, which another coordinator may still be deciding; retry later`,
      })
    }
    if (txn.claimTaken === undefined) this.replyAll(txn)
    if (wasPreparing && reasons.every((r) => r.code !== 'participant_unavailable')) {
      for (const participant of this.options.participants) {
        this.out.push({ type: 'send', to: participant, msg: { type: 'abort', txId: txn.txId } })
      }
    }
    // Presumed abort: the record only serves status lookups and client retries, so no fsync (but see onClaimTaken).
    this.persist('abort-decision', txn.claimTaken !== undefined, [{ type: 'put', key: decisionKey(txn.txId), value: recordOf(txn) }], txn.txId)
    this.log('debug', 'transaction aborted', { txId: txn.txId, reasons: reasons.map((r) => `${r.participant}:${r.code}`) })
  }

  private answerClaimTaken(txn: Txn, body: ReplyBody): void {
    for (const reqId of txn.waiters) this.out.push({ type: 'reply', reqId, body })
    txn.waiters = []
  }

  private replyAll(txn: Txn): void {
    const result = resultOf(txn)
    for (const reqId of txn.waiters) this.out.push({ type: 'reply', reqId, body: { ok: true, result } })
    txn.waiters = []
  }

  private persist(kind: CoordinatorPersistKind, sync: boolean, ops: StoreOp[], txId?: string): number {
    const effect = persistEffect(this.state, kind, sync, ops, txId)
    this.out.push(effect)
    return effect.token
  }

  /** Forget finished transactions past retention; txns iterate in creation order, so stop at the first young one. */
  private collectGarbage(): void {
    const cutoff = this.now - this.options.retentionMs
    const dels: StoreOp[] = []
    for (const txn of this.state.txns.values()) {
      if (txn.createdAt >= cutoff) break
      if (!txn.ended || txn.decidedAt! >= cutoff) continue // ended ⇒ decided
      this.state.txns.delete(txn.txId)
      if (txn.clientId !== undefined) this.state.byClientId.delete(txn.clientId)
      dels.push({ type: 'del', key: decisionKey(txn.txId) })
    }
    const keepEpochs = this.state.epochs.filter((e) => e.startedAt >= cutoff || e.epoch === this.state.epoch)
    for (const e of this.state.epochs) if (!keepEpochs.includes(e)) dels.push({ type: 'del', key: epochKey(e.epoch) })
    this.state.epochs = keepEpochs
    if (dels.length > 0) this.persist('gc', false, dels)
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.out.push(logEffect(level, msg, fields))
  }
}


function reason(participant: string, code: 'participant_unavailable' | 'participant_disconnected' | 'vote_timeout'): AbortReason {
  return { participant, code, message: abortReasons[code].message }
}

export function resultOf(txn: Txn): TxnResult {
  const result: TxnResult = { txId: txn.txId, outcome: txn.phase === 'committed' ? 'committed' : 'aborted' }
  if (txn.clientId !== undefined) result.id = txn.clientId
  if (result.outcome === 'aborted') result.reasons = txn.reasons
  else result.versions = objectFromMap(txn.versions)
  return result
}

function recordOf(txn: Txn): DecisionRecord {
  const record: DecisionRecord = {
    txId: txn.txId,
    writesHash: txn.writesHash,
    keys: txn.keys,
    outcome: txn.phase === 'preparing' ? 'undecided' : txn.phase === 'aborted' ? 'aborted' : 'committed',
    createdAt: txn.createdAt,
    ended: txn.ended,
  }
  if (txn.decidedAt !== undefined) record.decidedAt = txn.decidedAt
  if (txn.clientId !== undefined) record.clientId = txn.clientId
  if (record.outcome === 'aborted') record.reasons = txn.reasons
  else record.versions = objectFromMap(txn.versions)
  return record
}

/** A transaction about to collect votes: from a client's request, or one a participant asks about (recovered). */
function newTxn(txId: string, now: number, from: Pick<Txn, 'writes' | 'writesHash' | 'keys' | 'waiters' | 'recovered'>): Txn {
  return { txId, ...from, phase: 'preparing', votes: new Map(), acks: [], reasons: [], versions: new Map(), createdAt: now, ended: false }
}

function txnFromRecord(record: DecisionRecord): Txn {
  const txn: Txn = {
    txId: record.txId,
    writes: [],
    writesHash: record.writesHash,
    keys: record.keys,
    phase: record.outcome === 'undecided' ? 'aborted' : record.outcome,
    votes: new Map(),
    acks: [],
    reasons: record.reasons ?? [],
    versions: mapFromObject(record.versions),
    createdAt: record.createdAt,
    ended: record.ended || record.outcome === 'undecided',
    waiters: [],
    recovered: true,
  }
  if (record.clientId !== undefined) txn.clientId = record.clientId
  if (record.decidedAt !== undefined) txn.decidedAt = record.decidedAt
  return txn
}
