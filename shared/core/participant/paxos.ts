import { accept, copyAccepted, copyRecord, newAcceptorRecord, promise, type AcceptorRecord } from '../paxos/acceptor.ts'
import { ballotOwner, isCoordinator, leaderIndex, nextBallot, quorumSize, type Leaders } from '../paxos/ballot.ts'
import { COORDINATOR_NODE } from '../protocol/messages.ts'
import { coordinatorOf } from '../protocol/tx-id.ts'
import { beginBallot, neededAcceptances, onAccepted, onPromise, proposal } from '../paxos/leader.ts'
import type { InstanceValues } from '../paxos/values.ts'
import { invariant } from '../protocol/invariant.ts'
import { keyedObject } from '../protocol/keyed-object.ts'
import type { PaxosMsg, Phase1bMsg, Phase2bMsg, VoteReason } from '../protocol/messages.ts'
import type { Outcome } from '../protocol/types.ts'
import { acceptorKey, resolvedKey } from '../record-keys.ts'
import type { StoreOp } from '../store.ts'
import type { Outgoing, ParticipantEffect, ParticipantOptions, ParticipantPersistKind, ParticipantState, PreparedTxn, ResolvedRecord } from './types.ts'

/** What the Paxos Commit role needs of the participant machine it runs in. */
export interface ParticipantHost {
  readonly state: ParticipantState
  readonly options: ParticipantOptions
  readonly now: number
  emit(effect: ParticipantEffect): void
  /** Emits a persist effect; returns its token. */
  persist(kind: ParticipantPersistKind, sync: boolean, ops: StoreOp[], txId?: string): number
  /** The outcome is known to be chosen: apply it as a COMMIT or an ABORT message would. */
  learn(txId: string, outcome: Outcome): void
}

const recoverTimer = (txId: string) => ({ kind: 'recover', txId }) as const

/** Markers whose peers are asked in one sweep, at most: the asks of a long backlog follow over the next sweeps. */
export const MAX_ASKS_PER_SWEEP = 256

/**
 * A participant's part in Paxos Commit (Gray and Lamport, 2006): it is the
 * resource manager that proposes its own vote at ballot 0, an acceptor of
 * every participant's instance, and, for a transaction in doubt too long, a
 * recovery leader. Every message that reports acceptor state leaves only when
 * the write of that state is durable (`after`, flushed on `persisted`);
 * writes complete in the order they were made, so a reply never reports
 * more than the disk holds.
 */
export class ParticipantPaxos {
  /** Markers found unconfirmed by this sweep's garbage collection, asked about by askPeers. */
  private toAsk: ResolvedRecord[] = []

  constructor(private readonly host: ParticipantHost) {}

  private get me(): string {
    return this.host.options.name!
  }

  private get participants(): readonly string[] {
    return this.host.options.participants!
  }

  private get leaders(): Leaders {
    return { coordinators: this.host.options.coordinators ?? [COORDINATOR_NODE], participants: this.participants }
  }

  /** Whether the link to this transaction's coordinator is up. */
  private coordinatorConnected(txId: string): boolean {
    return this.host.state.connected.includes(coordinatorOf(txId))
  }

  private get quorum(): number {
    return quorumSize(this.participants.length)
  }

  private get bugs(): ParticipantOptions['unsafeBugs'] {
    return this.host.options.unsafeBugs
  }

  // ---- resource manager (ballot 0) ------------------------------------------

  /**
   * The acceptor record to write in the PREPARED record's batch: this
   * participant accepts its own `prepared` at ballot 0. Only when no ballot
   * above 0 was promised (see promisedAway, checked before).
   */
  ownAcceptance(txId: string): StoreOp {
    const record = this.host.state.acceptors.get(txId) ?? newAcceptorRecord(txId)
    invariant(record.promised === 0, () => `${txId}: own acceptance at ballot 0 after promising ballot ${record.promised} (promisedAway is checked first)`)
    record.accepted[this.me] = { ballot: 0, value: 'prepared' }
    this.host.state.acceptors.set(txId, record)
    return { type: 'put', key: acceptorKey(txId), value: copyRecord(record) }
  }

  /** A promise above ballot 0 was made for this transaction: a new PREPARE of it is refused. */
  promisedAway(txId: string): boolean {
    return (this.host.state.acceptors.get(txId)?.promised ?? 0) > 0
  }

  /**
   * The PREPARED record is durable: propose `prepared` to as many other
   * acceptors as the instance needs besides this one (F of them, the next in
   * ring order), and wait so long before leading a recovery. Thrifty, as
   * Mencius and EPaxos are: the others would only add synced writes and
   * messages that nobody waits for. If those F do not answer, the recovery
   * timer widens the proposal to every acceptor (widenOwnVote), and the
   * coordinator's vote timer leads a ballot as before.
   */
  proposeOwnVote(txn: PreparedTxn): void {
    this.proposeOwnVoteTo(txn.txId, this.thriftyAcceptors())
    this.armRecovery(txn.txId)
  }

  /** The F acceptors after this one in ring order: with its own acceptance, F + 1 choose. */
  private thriftyAcceptors(): string[] {
    const others = this.quorum - 1
    const at = this.participants.indexOf(this.me)
    return Array.from({ length: others }, (_, i) => this.participants[(at + 1 + i) % this.participants.length]!)
  }

  private proposeOwnVoteTo(txId: string, acceptors: readonly string[]): void {
    const values = keyedObject<'prepared'>()
    values[this.me] = 'prepared'
    for (const p of acceptors) this.host.emit({ type: 'sendPeer', to: p, msg: { type: 'phase2a', txId, ballot: 0, values } })
  }

  /**
   * Still in doubt at the recovery timer, with ballot 0 not promised away: the
   * thrifty acceptors may be down or cut off, so every other acceptor now
   * gets the ballot-0 proposal too. Once: each acceptor would write and sync
   * its acceptance again at every firing, and if these proposals are lost
   * too, the recovery ballots that follow (this node's, the coordinator's)
   * finish the transaction. A restart, which recovers the transaction
   * without the mark, widens once more.
   */
  private widenOwnVote(txn: PreparedTxn): void {
    if (txn.widened === true || this.host.state.acceptors.get(txn.txId)?.accepted[this.me]?.ballot !== 0 || this.promisedAway(txn.txId)) return
    txn.widened = true
    const thrifty = this.thriftyAcceptors()
    this.proposeOwnVoteTo(txn.txId, this.participants.filter((p) => p !== this.me && !thrifty.includes(p)))
  }

  /**
   * A NO vote is final only once durable: a participant that forgot it could
   * vote YES on a re-sent PREPARE, and its instance would then choose
   * `prepared` for a transaction a client was told aborted.
   */
  refuse(txId: string, why: VoteReason): void {
    const s = this.host.state
    s.refusing.set(txId, true)
    const marker: ResolvedRecord = { txId, outcome: 'aborted', at: this.host.now }
    // Its acceptor record stays: this node is still an acceptor of the other participants' instances,
    // and a fresh record would accept a ballot 0 it has already promised away. It goes once the outcome is learned.
    const token = this.host.persist('abort', true, [{ type: 'put', key: resolvedKey(txId), value: marker }], txId)
    this.sendAfter(token, [{ msg: { type: 'vote', txId, yes: false, reason: why } }])
  }

  /** The refusal's marker is durable. */
  refused(txId: string): void {
    const s = this.host.state
    s.refusing.delete(txId)
    s.resolved.delete(txId)
    s.resolved.set(txId, { txId, outcome: 'aborted', at: this.host.now })
  }

  /** The transaction is resolved here: its acceptor record goes in the same batch (the resolved marker stands in for it). */
  forget(txId: string, ops: StoreOp[]): void {
    const s = this.host.state
    if (s.acceptors.delete(txId)) ops.push({ type: 'del', key: acceptorKey(txId) })
    s.leading.delete(txId)
    this.host.emit({ type: 'cancelTimer', timer: recoverTimer(txId) })
  }

  // ---- forgetting safely ---------------------------------------------------------

  /**
   * Whether a resolved marker past retention may go. Its acceptor record went
   * when the outcome was learned, and the marker answers for it (toldOutcome).
   * Dropped while a peer is still in doubt, that peer's recovery would find
   * no acceptor that remembers the outcome, and could choose the other one:
   * abort what committed, or commit what aborted. The same holds for a
   * coordinator that lost its unsynced decision to a power loss and recovers
   * the transaction from its synced begin record (found by the swarm, seed
   * 7). So it stays until every peer and the coordinator have said they hold
   * the outcome durably; until then they are asked, again every re-ask
   * interval, and at most MAX_ASKS_PER_SWEEP markers at a time. A peer that
   * never comes back keeps the markers of the transactions it left in doubt:
   * they are few, because no transaction commits without it.
   */
  mayForget(record: ResolvedRecord): boolean {
    const s = this.host.state
    const peers = this.participants.filter((p) => p !== this.me)
    const known = s.confirmations.get(record.txId)
    if (known?.coordinator === true && peers.every((p) => known.peers.includes(p))) {
      s.confirmations.delete(record.txId)
      return true
    }
    if (this.toAsk.length >= MAX_ASKS_PER_SWEEP) return false
    if (known !== undefined && this.host.now - known.askedAt < this.reaskMs) return false
    if (s.refusing.has(record.txId)) return false // its NO is still being written
    s.confirmations.set(record.txId, { peers: known?.peers ?? [], coordinator: known?.coordinator ?? false, askedAt: this.host.now })
    this.toAsk.push(record)
    return false
  }

  private get reaskMs(): number {
    return Math.max(this.host.options.sweepIntervalMs, this.recoveryBaseMs)
  }

  /** How long a transaction is in doubt before this node leads its recovery (before backoff). */
  private get recoveryBaseMs(): number {
    return this.host.options.recoveryAfterMs ?? this.host.options.queryAfterMs
  }

  /**
   * Asks the peers that have not confirmed. The markers are written again,
   * synced, first: an ask says this node resolved durably, and an ABORT's
   * write is not synced by itself.
   */
  askPeers(): void {
    const records = this.toAsk
    if (records.length === 0) return
    this.toAsk = []
    const s = this.host.state
    const ops: StoreOp[] = records.map((r) => ({ type: 'put', key: resolvedKey(r.txId), value: r }))
    const token = this.host.persist('confirm', true, ops)
    const asks: Outgoing[] = []
    for (const r of records) {
      const confirmed = s.confirmations.get(r.txId)!
      const ask = { type: 'resolved', txId: r.txId, from: this.me, outcome: r.outcome, ask: true } as const
      for (const p of this.participants) {
        if (p !== this.me && !confirmed.peers.includes(p)) asks.push({ to: p, msg: ask })
      }
      if (!confirmed.coordinator && this.coordinatorConnected(r.txId)) asks.push({ msg: ask })
    }
    this.sendAfter(token, asks)
  }

  private onResolved(msg: Extract<PaxosMsg, { type: 'resolved' }>): void {
    const s = this.host.state
    if (!msg.ask) {
      this.confirm(msg.txId, msg.from)
      return
    }
    const txn = s.prepared.get(msg.txId)
    if (txn?.phase === 'prepared') {
      // In doubt here: the asker resolved it, so its outcome was chosen. The asker asks again later.
      this.host.learn(msg.txId, msg.outcome)
      return
    }
    if (txn !== undefined || s.refusing.has(msg.txId)) return // still being written here: asked again later
    const marker = s.resolved.get(msg.txId)
    invariant(marker === undefined || marker.outcome === msg.outcome, () => `${msg.txId}: ${msg.from} resolved it ${msg.outcome}, this node ${marker!.outcome}`)
    // The asker resolved durably (it asks only after a synced write).
    this.confirm(msg.txId, msg.from)
    // Not in doubt here, and that must be durable before it is said: an unsynced ABORT could come undone.
    // Without a marker (never prepared here, or forgotten after every peer confirmed), a delete is the write to sync.
    const op: StoreOp = marker ? { type: 'put', key: resolvedKey(msg.txId), value: marker } : { type: 'del', key: resolvedKey(msg.txId) }
    const token = this.host.persist('confirm', true, [op], msg.txId)
    this.sendAfter(token, [{ to: msg.from, msg: { type: 'resolved', txId: msg.txId, from: this.me, outcome: msg.outcome, ask: false } }])
  }

  /** A peer (or the transaction's coordinator) resolved the transaction durably: counted while this node keeps its marker. */
  private confirm(txId: string, from: string): void {
    const s = this.host.state
    if (!s.resolved.has(txId)) return
    const known = s.confirmations.get(txId) ?? { peers: [], coordinator: false, askedAt: -Infinity }
    if (from === coordinatorOf(txId)) known.coordinator = true
    else if (!this.participants.includes(from)) return
    else if (!known.peers.includes(from)) known.peers.push(from)
    s.confirmations.set(txId, known)
  }

  /**
   * Ballots of leaders that start together preempt each other (Paxos's
   * duelling proposers): each participant waits a little longer than the one
   * before it in configuration order, and twice as long after each ballot of
   * its own that did not finish.
   */
  private armRecovery(txId: string, rounds = 0): void {
    const base = this.recoveryBaseMs
    const stagger = Math.floor((base * this.participants.indexOf(this.me)) / this.participants.length)
    this.host.emit({ type: 'setTimer', timer: recoverTimer(txId), afterMs: base * 2 ** Math.min(rounds, 6) + stagger })
  }

  /** Restarted with PREPARED records: each waits for its outcome, and is recovered if it waits too long. */
  restarted(records: readonly AcceptorRecord[]): void {
    const s = this.host.state
    for (const record of records) s.acceptors.set(record.txId, record)
    for (const txId of s.prepared.keys()) this.armRecovery(txId)
  }

  // ---- messages ---------------------------------------------------------------

  onMessage(msg: PaxosMsg): void {
    switch (msg.type) {
      case 'phase1a':
        this.onPhase1a(msg.txId, msg.ballot)
        break
      case 'phase2a':
        this.onPhase2a(msg.txId, msg.ballot, msg.values)
        break
      case 'phase1b':
        this.onPhase1b(msg)
        break
      case 'phase2b':
        this.onPhase2b(msg)
        break
      case 'outcome':
        this.onOutcome(msg.txId, msg.outcome)
        break
      case 'resolved':
        this.onResolved(msg)
        break
    }
  }

  /** What this node knows was chosen: applied or aborted here, or being written so. */
  private knownOutcome(txId: string): Outcome | undefined {
    const s = this.host.state
    const phase = s.prepared.get(txId)?.phase
    if (phase === 'applying') return 'committed'
    if (phase === 'aborting') return 'aborted'
    // Set once its NO is durable, or once an outcome was learned (an ABORT may come while the NO is still written).
    return s.resolved.get(txId)?.outcome
  }

  /** An acceptor that knows the outcome tells the ballot's owner, instead of promising or accepting. */
  private toldOutcome(txId: string, ballot: number): boolean {
    const outcome = this.knownOutcome(txId)
    if (outcome === undefined) return false
    this.deliver({ to: ballotOwner(this.leaders, ballot), msg: { type: 'outcome', txId, from: this.me, outcome } })
    return true
  }

  private onPhase1a(txId: string, ballot: number): void {
    if (this.toldOutcome(txId, ballot)) return
    const s = this.host.state
    const record = s.acceptors.get(txId) ?? newAcceptorRecord(txId)
    const owner = ballotOwner(this.leaders, ballot)
    const result = promise(record, ballot)
    if (result === 'repeat') return // its 1b is on its way (or was lost with a connection: the leader tries a higher ballot)
    if (result === 'stale') {
      this.deliver({ to: owner, msg: { type: 'phase1b', txId, ballot, from: this.me, accepted: keyedObject(), promised: record.promised } })
      return
    }
    s.acceptors.set(txId, record)
    const token = this.host.persist('promise', true, [{ type: 'put', key: acceptorKey(txId), value: copyRecord(record) }], txId)
    this.sendAfter(token, [{ to: owner, msg: { type: 'phase1b', txId, ballot, from: this.me, accepted: copyAccepted(record.accepted) } }])
  }

  private onPhase2a(txId: string, ballot: number, values: InstanceValues): void {
    if (this.toldOutcome(txId, ballot)) return
    const s = this.host.state
    const record = s.acceptors.get(txId) ?? newAcceptorRecord(txId)
    if (!accept(record, ballot, values, this.participants)) return // a higher ballot was promised: its leader goes on
    s.acceptors.set(txId, record)
    const token = this.host.persist('accept', true, [{ type: 'put', key: acceptorKey(txId), value: copyRecord(record) }], txId)
    const reply: Outgoing = { to: ballotOwner(this.leaders, ballot), msg: { type: 'phase2b', txId, ballot, from: this.me, values } }
    if (this.bugs?.acceptBeforeDurable === true) this.deliver(reply)
    else this.sendAfter(token, [reply])
  }

  private onOutcome(txId: string, outcome: Outcome): void {
    const leading = this.host.state.leading.has(txId)
    this.host.learn(txId, outcome)
    // A leader that hears the outcome passes it on: the other participants may be waiting for it too.
    if (leading) this.broadcast(txId, outcome)
  }

  // ---- recovery leader --------------------------------------------------------------

  /** The transaction has been in doubt too long: lead a ballot for it (again, higher, if one is already under way). */
  onRecoverTimer(txId: string): void {
    const s = this.host.state
    const txn = s.prepared.get(txId)
    if (txn?.phase !== 'prepared') return
    if (!s.leading.has(txId)) this.widenOwnVote(txn)
    const base = this.recoveryBaseMs
    if (this.coordinatorConnected(txId) && this.host.now - txn.preparedAt < 4 * base) {
      // Its coordinator is there to lead (it starts a ballot for a transaction it does not know): ask it.
      // Lead only without it, or once it has had long enough (it may reach too few acceptors to finish).
      this.host.emit({ type: 'send', to: coordinatorOf(txId), msg: { type: 'query', txId } })
      this.armRecovery(txId)
      return
    }
    const before = s.leading.get(txId)
    const rounds = (before?.rounds ?? 0) + 1
    const max = this.host.options.maxRecoveryRounds
    if (max !== undefined && rounds > max) return
    const own = s.acceptors.get(txId)
    // Above anything this node promised (its own promise is durable, so a restart never reuses a ballot) or saw refused.
    const above = Math.max(own?.promised ?? 0, before?.highestSeen ?? 0, before?.ballot ?? 0)
    const ballot = nextBallot(this.leaders, leaderIndex(this.leaders, this.me), above)
    const leader = beginBallot(txId, ballot, rounds, above)
    s.leading.set(txId, leader)
    this.host.emit({ type: 'log', level: 'warn', msg: 'leading the recovery of a transaction in doubt', txId, ballot })
    if (max === undefined || rounds < max) this.armRecovery(txId, rounds)
    if (this.bugs?.skipPhase1 === true) {
      // Flawed: proposes from its own acceptor's view alone.
      leader.phase = 'accepting'
      leader.values = proposal([own?.accepted ?? keyedObject()], this.participants, this.bugs)
      this.toAll({ type: 'phase2a', txId, ballot, values: leader.values })
      return
    }
    // Its own promise first: once durable, a restart never picks this ballot again, and only then does phase 1a go out.
    const record = own ?? newAcceptorRecord(txId)
    invariant(promise(record, ballot) === 'promised', () => `${txId}: ballot ${ballot} is not above this node's promise ${record.promised}`)
    s.acceptors.set(txId, record)
    const token = this.host.persist('promise', true, [{ type: 'put', key: acceptorKey(txId), value: copyRecord(record) }], txId)
    const phase1a: Outgoing[] = this.participants.filter((p) => p !== this.me).map((p) => ({ to: p, msg: { type: 'phase1a', txId, ballot } }))
    this.sendAfter(token, [...phase1a, { to: this.me, msg: { type: 'phase1b', txId, ballot, from: this.me, accepted: copyAccepted(record.accepted) } }])
  }

  private onPhase1b(msg: Phase1bMsg): void {
    const leader = this.host.state.leading.get(msg.txId)
    if (leader?.ballot !== msg.ballot) return
    if (msg.promised !== undefined) {
      leader.highestSeen = Math.max(leader.highestSeen, msg.promised)
      return
    }
    const values = onPromise(leader, msg.from, msg.accepted, this.participants, this.quorum, this.bugs)
    if (values !== undefined) this.toAll({ type: 'phase2a', txId: msg.txId, ballot: msg.ballot, values })
  }

  private onPhase2b(msg: Phase2bMsg): void {
    const leader = this.host.state.leading.get(msg.txId)
    if (leader?.ballot !== msg.ballot) return
    const outcome = onAccepted(leader, msg.from, this.quorum, this.bugs)
    if (outcome === undefined) return
    invariant(leader.accepts.length >= neededAcceptances(this.quorum, this.bugs), () => `${msg.txId} chosen with ${leader.accepts.length} acceptances`)
    this.host.emit({ type: 'log', level: 'info', msg: `recovery chose ${outcome}`, txId: msg.txId, ballot: msg.ballot })
    this.host.learn(msg.txId, outcome)
    this.broadcast(msg.txId, outcome)
  }

  /** To the other participants, and to its coordinator if it is there: its client may still be waiting. */
  private broadcast(txId: string, outcome: Outcome): void {
    const msg = { type: 'outcome', txId, from: this.me, outcome } as const
    for (const p of this.participants) {
      if (p !== this.me) this.host.emit({ type: 'sendPeer', to: p, msg })
    }
    if (this.coordinatorConnected(txId)) this.host.emit({ type: 'send', to: coordinatorOf(txId), msg })
  }

  /** To every acceptor, this node's own included (delivered to itself at once). */
  private toAll(msg: PaxosMsg): void {
    const others = this.participants.filter((p) => p !== this.me)
    for (const p of others) this.host.emit({ type: 'sendPeer', to: p, msg })
    this.onMessage(msg)
  }

  // ---- persist before send --------------------------------------------------------

  private sendAfter(token: number, messages: Outgoing[]): void {
    this.host.state.after.set(token, messages)
  }

  /** A write is durable: what waited for it leaves. */
  persisted(token: number): void {
    const messages = this.host.state.after.get(token)
    if (!messages) return
    this.host.state.after.delete(token)
    for (const m of messages) this.deliver(m)
  }

  /** To a coordinator (the transaction's, without `to`), to another participant, or to this node's own leader role. */
  private deliver(m: Outgoing): void {
    if (m.to === this.me) this.onMessage(m.msg as PaxosMsg)
    else if (m.to === undefined || isCoordinator(this.leaders, m.to)) {
      const msg = m.msg as Extract<Outgoing['msg'], { type: 'vote' | 'phase1b' | 'phase2b' | 'outcome' | 'resolved' }>
      this.host.emit({ type: 'send', to: m.to ?? coordinatorOf(msg.txId), msg })
    } else this.host.emit({ type: 'sendPeer', to: m.to, msg: m.msg as PaxosMsg })
  }
}
