import { CoordinatorMachine } from '../core/coordinator/machine.ts'
import { planCoordinatorRecovery } from '../core/coordinator/recovery.ts'
import type { CoordinatorEffect, CoordinatorEvent, CoordinatorOptions } from '../core/coordinator/types.ts'
import { ParticipantMachine } from '../core/participant/machine.ts'
import { cachedStart, planParticipantRecovery } from '../core/participant/recovery.ts'
import { describeStoreRead, readStore } from './store-read.ts'
import type { ParticipantEffect, ParticipantEvent, ParticipantOptions, ParticipantState } from '../core/participant/types.ts'
import type { ToCoordinator, ToParticipant } from '../core/protocol/messages.ts'
import { timerKey } from '../core/protocol/timers.ts'
import { isDelete, type DistributiveOmit, type Write } from '../core/protocol/types.ts'
import { backupDecision, isPrepared } from './backup-coordinator.ts'
import { noteApplyVersions, noteVersions } from './invariants.ts'
import { applyOps } from './memory-store.ts'
import { quorumSize } from '../core/paxos/ballot.ts'
import type { AcceptorRecord } from '../core/paxos/acceptor.ts'
import { acceptorKey, entryKey } from '../core/record-keys.ts'
import { channelOf, COORDINATOR, participantNames, type PendingPersist, type SimConfig, type SimEvent, type SimNode, type UnsyncedBatch, type World } from './model.ts'

export * from './model.ts'

export function coordinatorOptions(config: SimConfig): CoordinatorOptions {
  const o: CoordinatorOptions = { participants: [...participantNames(config)], defaultTimeoutMs: 50, maxInFlight: 1000, retentionMs: 1e12, gcIntervalMs: 1000, checkInvariants: true }
  const bugs = config.bugs ?? {}
  if (bugs.replyBeforeDurable === true) o.unsafeBugs = { replyBeforeDurable: true }
  if (bugs.decisionWithoutSync === true) o.unsafeBugs = { ...o.unsafeBugs, decisionWithoutSync: true }
  if (config.clientIdClaims === true) o.clientIdClaims = true
  if (config.protocol === 'paxos-commit') {
    o.protocol = 'paxos-commit'
    o.maxRecoveryRounds = config.maxRecoveryRounds ?? 1
    if (bugs.leaderProposesPrepared === true) o.unsafeBugs = { ...o.unsafeBugs, leaderProposesPrepared: true }
    if (bugs.smallQuorum === true) o.unsafeBugs = { ...o.unsafeBugs, smallQuorum: true }
  }
  return o
}

export function participantOptions(config: SimConfig, name = 'p1'): ParticipantOptions {
  const o: ParticipantOptions = { readWaitMs: 50, sweepIntervalMs: 40, queryAfterMs: 150, retentionMs: config.participantRetentionMs ?? 1e12, maxRemembered: 1e6, checkInvariants: true }
  const bugs = config.bugs ?? {}
  if (bugs.voteBeforeDurable === true) o.unsafeBugs = { voteBeforeDurable: true }
  if (bugs.prepareWithoutSync === true) o.unsafeBugs = { ...o.unsafeBugs, prepareWithoutSync: true }
  if (config.cacheBytes !== undefined) o.cacheBytes = config.cacheBytes
  if (bugs.staleLoads === true) o.unsafeBugs = { ...o.unsafeBugs, staleLoads: true }
  if (config.protocol === 'paxos-commit') {
    o.protocol = 'paxos-commit'
    o.participants = participantNames(config)
    o.name = name
    o.recoveryAfterMs = 150
    o.maxRecoveryRounds = config.maxRecoveryRounds ?? 1
    for (const bug of ['leaderProposesPrepared', 'acceptBeforeDurable', 'smallQuorum', 'skipPhase1'] as const) {
      if (bugs[bug] === true) o.unsafeBugs = { ...o.unsafeBugs, [bug]: true }
    }
  }
  return o
}

/** Every node started, every link connected, no client request made yet. */
export function createWorld(config: SimConfig): World {
  const world: World = {
    now: 0,
    nodes: {},
    net: [],
    links: {},
    clients: config.txns.map((_, txn) => ({ txn, status: 'idle' })),
    budget: { crashes: config.maxCrashes, powerLosses: config.maxPowerLosses ?? 0, disconnects: config.maxDisconnects, duplicates: config.maxDuplicates },
    ghost: { yesVotes: {}, applied: {}, abortedPrepared: {}, told: {}, maxVersion: {}, backupDecided: [], flaws: [], acceptances: {}, chosen: {} },
    nextMsgId: 1,
    nextReqId: 1,
  }
  const names = [COORDINATOR, ...participantNames(config)]
  for (const name of names) {
    world.nodes[name] = { name, role: name === COORDINATOR ? 'coordinator' : 'participant', up: false, store: new Map(), persists: [], timers: new Map() }
  }
  for (const p of participantNames(config)) {
    for (const [key, value] of Object.entries(config.initialEntries ?? {})) world.nodes[p]!.store.set(entryKey(key), { value, version: 1 })
  }
  for (const name of names) restart(config, world, name)
  for (const p of participantNames(config)) {
    world.links[p] = { connected: false, epoch: 0 }
    connect(config, world, p)
  }
  return world
}

/** The events that may happen next. Timers are listed whatever their due time; the random runner filters. */
export function enabledEvents(config: SimConfig, world: World): SimEvent[] {
  const events: SimEvent[] = []
  const coordinatorUp = world.nodes[COORDINATOR]!.up
  for (const client of world.clients) {
    if (!coordinatorUp) continue
    if (client.status === 'idle' || (client.status === 'cut' && config.clientRetries)) events.push({ kind: 'submit', client: client.txn })
  }
  // Messages on a dropped connection or to a crashed node were removed when it happened.
  const heads = config.fifo === true ? new Set<string>() : undefined
  for (const m of world.net) {
    if (heads) {
      // The network keeps messages in the order sent: the first one of a connection is its head.
      const channel = channelOf(m)
      if (heads.has(channel)) continue
      heads.add(channel)
    }
    events.push({ kind: 'deliver', msg: m.id, duplicate: false })
    if (world.budget.duplicates > 0) events.push({ kind: 'deliver', msg: m.id, duplicate: true })
  }
  for (const node of Object.values(world.nodes)) {
    if (!node.up) {
      if (!(node.role === 'coordinator' && config.coordinatorNeverReturns === true)) events.push({ kind: 'restart', node: node.name })
      continue
    }
    if (node.persists.length > 0) events.push({ kind: 'persist', node: node.name })
    for (const read of node.reads ?? []) events.push({ kind: 'storeRead', node: node.name, id: read.effect.id })
    for (const [key, armed] of node.timers) {
      if (config.timers === 'all' || armed.timer.kind === 'vote' || (armed.timer.kind === 'recover' && !coordinatorUp)) events.push({ kind: 'timer', node: node.name, timer: key })
    }
    const restartAtOnce = config.timers === 'protocol' && config.backup !== true && !(node.role === 'coordinator' && config.coordinatorNeverReturns === true)
    if (world.budget.crashes > 0 && config.crashable.includes(node.role)) events.push({ kind: 'crash', node: node.name, restart: restartAtOnce })
    if (world.budget.powerLosses > 0 && config.crashable.includes(node.role)) {
      for (const keep of survivorSets(node.unsynced?.length ?? 0)) events.push({ kind: 'powerLoss', node: node.name, restart: restartAtOnce, keep })
    }
  }
  for (const [p, link] of Object.entries(world.links)) {
    if (!link.connected && coordinatorUp && world.nodes[p]!.up) events.push({ kind: 'connect', participant: p })
    if (link.connected && world.budget.disconnects > 0) events.push({ kind: 'disconnect', participant: p })
  }
  if (config.backup === true && !coordinatorUp) {
    for (const txId of preparedAnywhere(world)) if (!world.ghost.backupDecided.includes(txId)) events.push({ kind: 'backup', txId })
  }
  return events
}

/**
 * Which of n unsynced writes a power loss may keep, as bit masks: every
 * subset while there are few (as the disk allows, see UnsyncedBatch), only
 * the oldest k of them beyond that, so that a long run of unsynced writes in
 * a random run does not list 2^n events.
 */
export function survivorSets(n: number): number[] {
  if (n <= 4) return Array.from({ length: 2 ** n }, (_, mask) => mask)
  return Array.from({ length: n + 1 }, (_, k) => 2 ** k - 1)
}

function preparedAnywhere(world: World): string[] {
  const ids = new Set<string>()
  for (const node of Object.values(world.nodes)) for (const txId of node.participant?.prepared.keys() ?? []) ids.add(txId)
  return [...ids].sort()
}

/** Applies one event; returns a one-line description for the trace. */
export function applyEvent(config: SimConfig, world: World, event: SimEvent): string {
  switch (event.kind) {
    case 'submit':
      return submit(config, world, event.client)
    case 'deliver':
      return deliver(config, world, event.msg, event.duplicate)
    case 'persist':
      return completePersist(config, world, event.node)
    case 'storeRead':
      return storeRead(config, world, event.node, event.id)
    case 'timer': {
      const timers = world.nodes[event.node]!.timers
      const { timer } = timers.get(event.timer)!
      timers.delete(event.timer)
      step(config, world, event.node, { type: 'timer', timer } as NodeEvent)
      return `${event.node}: timer ${event.timer} fires`
    }
    case 'crash':
      world.budget.crashes--
      crash(config, world, event.node)
      if (!event.restart) return `CRASH ${event.node} (pending writes lost, connections dropped)`
      restart(config, world, event.node)
      return `CRASH ${event.node} (pending writes lost, connections dropped) and RESTART (recovers from its durable store)`
    case 'powerLoss': {
      world.budget.powerLosses--
      const lost = losePower(world.nodes[event.node]!, event.keep)
      crash(config, world, event.node)
      const what = `POWER LOSS ${event.node} (${lost}; pending writes lost, connections dropped)`
      if (!event.restart) return what
      restart(config, world, event.node)
      return `${what} and RESTART (recovers from what its disk holds)`
    }
    case 'restart':
      restart(config, world, event.node)
      return `RESTART ${event.node} (recovers from its durable store)`
    case 'connect':
      connect(config, world, event.participant)
      return `connection coordinator ↔ ${event.participant} established`
    case 'disconnect':
      world.budget.disconnects--
      dropLink(config, world, event.participant)
      return `connection coordinator ↔ ${event.participant} DROPPED (in-flight messages lost)`
    case 'backup':
      return runBackup(config, world, event.txId)
  }
}

function submit(config: SimConfig, world: World, index: number): string {
  const client = world.clients[index]!
  const txn = config.txns[index]!
  const retry = client.status === 'cut'
  client.status = 'waiting'
  client.reqId = world.nextReqId++
  step(config, world, COORDINATOR, { type: 'request', reqId: client.reqId, clientId: txn.clientId, writes: txn.writes })
  return `client ${txn.clientId} ${retry ? 'RETRIES' : 'sends'} ${txn.writes.map(describeWrite).join(',')}`
}

function deliver(config: SimConfig, world: World, id: number, duplicate: boolean): string {
  const index = world.net.findIndex((m) => m.id === id)
  const m = world.net[index]!
  if (duplicate) world.budget.duplicates--
  else world.net.splice(index, 1)
  // In-flight messages are shared between worlds (see cloneForEvent): the receiver gets its own copy, as off the wire.
  const msg = deepCopy(m.msg)
  if (m.to === COORDINATOR) step(config, world, COORDINATOR, { type: 'message', from: m.from, msg: msg as ToCoordinator })
  else step(config, world, m.to, { type: 'message', msg: msg as ToParticipant })
  return `${m.to} ← ${describeMsg(m.msg)} from ${m.from}${duplicate ? ' (DUPLICATED)' : ''}`
}

function completePersist(config: SimConfig, world: World, name: string): string {
  const node = world.nodes[name]!
  const p = node.persists.shift()!
  if (p.kind === 'apply') noteApplyVersions(world, name, p.ops)
  writeToDisk(world, node, p, p.sync)
  if (p.txId !== undefined && p.kind === 'apply') {
    addTo(world.ghost.applied, p.txId, name)
    if (config.protocol === 'paxos-commit') noteApplyChosen(config, world, p.txId, name)
  }
  if (p.txId !== undefined && p.kind === 'abort') addTo(world.ghost.abortedPrepared, p.txId, name)
  if (node.role === 'participant') noteVersions(world, name)
  if (node.role === 'participant' && p.txId !== undefined && config.protocol === 'paxos-commit') noteDurableAcceptances(config, world, name, p.txId)
  step(config, world, name, { type: 'persisted', token: p.token })
  // Without fsync a write is not durable yet: a power loss may take it until a later sync covers it.
  return `${name}: ${[p.kind, p.txId].join(' ').trim()} ${p.sync ? 'is durable (fsync)' : 'is written, unsynced'}`
}

/** The next step of a replica cache's read: it reads the store as it is now, or answers with what it read. */
function storeRead(config: SimConfig, world: World, name: string, id: number): string {
  const node = world.nodes[name]!
  const reads = node.reads!
  const index = reads.findIndex((r) => r.effect.id === id)
  const read = reads[index]!
  const what = describeStoreRead(read.effect)
  if (read.result === undefined) {
    read.result = readStore(node.store, read.effect)
    return `${name}: ${what} reads the store`
  }
  reads.splice(index, 1)
  if (reads.length === 0) delete node.reads
  step(config, world, name, read.result)
  return `${name}: ${what} answered`
}

/**
 * A completed write: visible at once; durable at once if synced (a sync
 * makes durable every write before it too, as LevelDB's log sync does), and
 * otherwise kept as unsynced while a power loss may still come.
 */
function writeToDisk(world: World, node: SimNode, batch: UnsyncedBatch, sync: boolean): void {
  if (world.budget.powerLosses > 0 && !sync) {
    node.synced ??= new Map(node.store)
    const unsynced: UnsyncedBatch = { kind: batch.kind, ops: batch.ops }
    if (batch.txId !== undefined) unsynced.txId = batch.txId
    ;(node.unsynced ??= []).push(unsynced)
  } else {
    // Synced, or no power loss can come any more: nothing to remember.
    delete node.synced
    delete node.unsynced
  }
  applyOps(node.store, batch.ops)
}

/** The node's store becomes what its disk holds: the synced state, and the unsynced writes in `keep`. Says what was lost. */
function losePower(node: SimNode, keep: number): string {
  const unsynced = node.unsynced ?? []
  if (node.synced) node.store = node.synced
  const lost: string[] = []
  const kept: string[] = []
  unsynced.forEach((batch, i) => {
    const name = [batch.kind, batch.txId].join(' ').trim()
    if ((keep & (1 << i)) !== 0) {
      applyOps(node.store, batch.ops)
      kept.push(name)
    } else lost.push(name)
  })
  delete node.synced
  delete node.unsynced
  if (unsynced.length === 0) return 'no unsynced write'
  return [lost.length > 0 ? `unsynced writes LOST: ${lost.join(', ')}` : '', kept.length > 0 ? `unsynced writes kept: ${kept.join(', ')}` : ''].filter((x) => x !== '').join('; ')
}

function crash(config: SimConfig, world: World, name: string): void {
  const node = world.nodes[name]!
  node.up = false
  delete node.coordinator
  delete node.participant
  node.persists = []
  delete node.reads
  node.timers.clear()
  // The backup's messages to it, and its peer connections with whatever they carried.
  world.net = world.net.filter((m) => !((m.link === 'backup' && m.to === name) || (m.link === PEER_LINK && (m.to === name || m.from === name))))
  for (const p of Object.keys(world.links)) if (name === COORDINATOR || name === p) dropLink(config, world, p)
  if (name === COORDINATOR) for (const c of world.clients) if (c.status === 'waiting') c.status = 'cut'
}

function restart(config: SimConfig, world: World, name: string): void {
  const node = world.nodes[name]!
  node.up = true
  if (node.role === 'coordinator') {
    const plan = planCoordinatorRecovery(node.store.entries(), world.now)
    // Written with sync, as the service does, before the machine starts.
    writeToDisk(world, node, { kind: 'epoch', ops: [plan.epochOp] }, true)
    node.coordinator = new CoordinatorMachine(coordinatorOptions(config)).state
    step(config, world, name, { type: 'start', ...plan.start })
  } else {
    node.participant = new ParticipantMachine(optionsOf(config, name).participant).state
    // With a replica cache, what the service keeps at start (recovery.ts): the whole replica if it fits, else its floors.
    const plan = planParticipantRecovery(node.store.entries())
    step(config, world, name, { type: 'start', ...(config.cacheBytes === undefined ? plan : cachedStart(plan, config.cacheBytes, true)) })
  }
}

function connect(config: SimConfig, world: World, p: string): void {
  world.links[p]!.connected = true
  step(config, world, p, { type: 'connected' })
  step(config, world, COORDINATOR, { type: 'connected', participant: p })
}

function dropLink(config: SimConfig, world: World, p: string): void {
  const link = world.links[p]!
  if (!link.connected) return
  link.connected = false
  link.epoch++
  world.net = world.net.filter((m) => m.link !== p)
  if (world.nodes[p]!.up) step(config, world, p, { type: 'disconnected' })
  if (world.nodes[COORDINATOR]!.up) step(config, world, COORDINATOR, { type: 'disconnected', participant: p })
}

function runBackup(config: SimConfig, world: World, txId: string): string {
  world.ghost.backupDecided.push(txId)
  const views = participantNames(config).map((p) => {
    const node = world.nodes[p]!
    return node.up && node.participant ? { participant: p, state: node.participant } : { participant: p, state: undefined }
  })
  const decision = backupDecision(txId, views)
  for (const v of views) {
    if (v.state) world.net.push({ id: world.nextMsgId++, from: 'backup', to: v.participant, msg: { type: decision, txId }, link: 'backup', epoch: 0 })
  }
  return `BACKUP coordinator sees ${views.map((v) => `${v.participant}:${v.state ? describeParticipantView(v.state, txId) : 'unavailable'}`).join(' ')} and decides ${decision.toUpperCase()} for ${txId}`
}

function describeParticipantView(state: ParticipantState, txId: string): string {
  return isPrepared(state, txId) ? 'prepared' : (state.resolved.get(txId)?.outcome ?? 'working')
}

const optionsByConfig = new WeakMap<SimConfig, Map<string, { coordinator: CoordinatorOptions; participant: ParticipantOptions }>>()

/** The machines' options, made once per configuration and node (the machines never change them; a participant's name is in its own). */
function optionsOf(config: SimConfig, name: string): { coordinator: CoordinatorOptions; participant: ParticipantOptions } {
  let byNode = optionsByConfig.get(config)
  if (!byNode) {
    byNode = new Map()
    optionsByConfig.set(config, byNode)
  }
  let options = byNode.get(name)
  if (!options) {
    options = { coordinator: coordinatorOptions(config), participant: participantOptions(config, name) }
    byNode.set(name, options)
  }
  return options
}

type NodeEvent = DistributiveOmit<CoordinatorEvent, 'now'> | DistributiveOmit<ParticipantEvent, 'now'>

/** Steps one node's machine and performs its effects on the world. */
function step(config: SimConfig, world: World, name: string, event: NodeEvent): void {
  const node = world.nodes[name]!
  const effects: (CoordinatorEffect | ParticipantEffect)[] = node.role === 'coordinator'
    ? new CoordinatorMachine(optionsOf(config, name).coordinator, node.coordinator).step({ ...event, now: world.now } as CoordinatorEvent)
    : new ParticipantMachine(optionsOf(config, name).participant, node.participant).step({ ...event, now: world.now } as ParticipantEvent)
  for (const effect of effects) perform(config, world, node, effect)
}

/** Participants' connections with each other (Paxos Commit): up while both ends are, and lost with a crash of either. */
const PEER_LINK = 'peer'

function perform(config: SimConfig, world: World, node: SimNode, effect: CoordinatorEffect | ParticipantEffect): void {
  switch (effect.type) {
    case 'send': {
      const to = effect.to
      const p = node.role === 'coordinator' ? to : node.name
      const link = world.links[p]
      if (effect.msg.type === 'vote' && effect.msg.yes) {
        addTo(world.ghost.yesVotes, effect.msg.txId, node.name)
        if (config.protocol === 'paxos-commit') noteAcceptance(config, world, effect.msg.txId, node.name, 0, { [node.name]: 'prepared' })
      }
      if (effect.msg.type === 'phase2b') noteAcceptance(config, world, effect.msg.txId, node.name, effect.msg.ballot, effect.msg.values)
      // Copied as the wire would: the receiver never shares objects with the sender.
      if (link?.connected === true) world.net.push({ id: world.nextMsgId++, from: node.name, to, msg: deepCopy(effect.msg), link: p, epoch: link.epoch })
      break
    }
    case 'sendPeer':
      if (effect.msg.type === 'phase2b') noteAcceptance(config, world, effect.msg.txId, node.name, effect.msg.ballot, effect.msg.values)
      if (world.nodes[effect.to]!.up) world.net.push({ id: world.nextMsgId++, from: node.name, to: effect.to, msg: deepCopy(effect.msg), link: PEER_LINK, epoch: 0 })
      break
    case 'load':
    case 'scan':
      ;(node.reads ??= []).push({ effect: deepCopy(effect) })
      break
    case 'persist': {
      // Copied as LevelDB's encoding would: later changes to machine state must not reach the disk.
      const pending: PendingPersist = { token: effect.token, ops: deepCopy(effect.ops), sync: effect.sync, kind: effect.kind }
      if (effect.txId !== undefined) pending.txId = effect.txId
      node.persists.push(pending)
      break
    }
    case 'setTimer':
      node.timers.set(timerKey(effect.timer), { timer: effect.timer, at: world.now + effect.afterMs })
      break
    case 'cancelTimer':
      node.timers.delete(timerKey(effect.timer))
      break
    case 'reply': {
      const client = world.clients.find((c) => c.reqId === effect.reqId && c.status === 'waiting')
      /* c8 ignore next -- a reply always finds its waiting client: crashes cut clients and drop the coordinator's waiters together */
      if (!client) break
      client.status = 'answered'
      if (effect.body.ok) {
        client.outcome = effect.body.result.outcome
        client.txId = effect.body.result.txId
        const before = world.ghost.told[client.txId]
        // Told is kept as first told: a second, different answer is a flaw of its own (and told stays monotone).
        if (before !== undefined && before !== client.outcome) world.ghost.flaws.push({ code: 'client-told-both', detail: `the client was told ${client.txId} ${before}, then ${client.outcome}` })
        else world.ghost.told[client.txId] = client.outcome
      } else {
        client.outcome = 'aborted'
      }
      break
    }
    case 'log':
      break
  }
}

/**
 * An acceptor reported accepting `values` at `ballot`: once a quorum has, at
 * one ballot, the value is chosen; two different values chosen for one
 * instance is Paxos's safety broken.
 */
function noteAcceptance(config: SimConfig, world: World, txId: string, acceptor: string, ballot: number, values: Record<string, 'prepared' | 'aborted'>): void {
  const g = world.ghost
  for (const [instance, value] of Object.entries(values)) {
    const key = `${txId} ${instance} ${ballot} ${value}`
    addTo(g.acceptances, key, acceptor)
    if (g.acceptances[key]!.length < quorumSize(config.participants)) continue
    const slot = `${txId} ${instance}`
    const before = g.chosen[slot]
    if (before === undefined) g.chosen[slot] = value
    else if (before !== value) g.flaws.push({ code: 'one-value-chosen', detail: `instance ${instance} of ${txId} chose ${before}, then ${value} at ballot ${ballot}` })
  }
}

/**
 * Paxos Commit: what an acceptor's durable record holds, it accepted. Counted
 * here as well as from the 2b messages, because a leader's own acceptor
 * reports to it without a message.
 */
function noteDurableAcceptances(config: SimConfig, world: World, acceptor: string, txId: string): void {
  const record = world.nodes[acceptor]!.store.get(acceptorKey(txId)) as AcceptorRecord | undefined
  for (const [instance, a] of Object.entries(record?.accepted ?? {})) noteAcceptance(config, world, txId, acceptor, a.ballot, { [instance]: a.value })
}

/** Paxos Commit: a participant applies only a commit that was chosen, `prepared` in every instance. */
function noteApplyChosen(config: SimConfig, world: World, txId: string, participant: string): void {
  const unchosen = participantNames(config).filter((p) => world.ghost.chosen[`${txId} ${p}`] !== 'prepared')
  if (unchosen.length > 0) world.ghost.flaws.push({ code: 'applied-without-chosen-commit', detail: `${participant} applied ${txId}, but instance ${unchosen.join(',')} did not choose prepared` })
}

function addTo(record: Record<string, string[]>, key: string, value: string): void {
  const list = record[key] ?? []
  if (!list.includes(value)) list.push(value)
  record[key] = list
}

/** `k=v` for a put, `k=∅` for a delete: how a trace shows a write. */
function describeWrite(w: Write): string {
  return `${w.key}=${isDelete(w) ? '∅' : w.value}`
}

export function describeMsg(msg: ToParticipant | ToCoordinator): string {
  switch (msg.type) {
    case 'prepare':
      return `PREPARE ${msg.txId} [${msg.writes.map((w) => `${describeWrite(w)}${w.ifVersion === undefined ? '' : `@v${w.ifVersion}`}${w.ifAbsent === true ? '(absent)' : ''}`).join(',')}]`
    case 'vote':
      return `VOTE ${msg.yes ? 'YES' : `NO ${JSON.stringify(msg.reason)}`} ${msg.txId}`
    case 'query':
      return `QUERY ${msg.txId}`
    case 'commit':
    case 'abort':
    case 'ack':
      return `${msg.type.toUpperCase()} ${msg.txId}`
    case 'phase1a':
      return `PHASE 1a ${msg.txId} ballot ${msg.ballot}`
    case 'phase1b':
      return msg.promised === undefined ? `PHASE 1b ${msg.txId} ballot ${msg.ballot} accepted ${describeAccepted(msg.accepted)}` : `PHASE 1b ${msg.txId} ballot ${msg.ballot} REFUSED (promised ${msg.promised})`
    case 'phase2a':
      return `PHASE 2a ${msg.txId} ballot ${msg.ballot} ${describeValues(msg.values)}`
    case 'phase2b':
      return `PHASE 2b ${msg.txId} ballot ${msg.ballot} ${describeValues(msg.values)}`
    case 'outcome':
      return `OUTCOME ${msg.txId} ${msg.outcome.toUpperCase()}`
    case 'resolved':
      return `RESOLVED ${msg.txId} ${msg.outcome.toUpperCase()}${msg.ask ? ' (asks the same)' : ''}`
    /* c8 ignore next 2 -- hello and reads are adapter business, never simulated */
    default:
      return msg.type.toUpperCase()
  }
}

function describeValues(values: Record<string, string>): string {
  return Object.entries(values).map(([instance, v]) => `${instance}:${v}`).join(',')
}

function describeAccepted(accepted: Record<string, { ballot: number; value: string }>): string {
  const parts = Object.entries(accepted).map(([instance, a]) => `${instance}:${a.value}@${a.ballot}`)
  return parts.length === 0 ? 'nothing' : parts.join(',')
}

/**
 * The nodes whose state (machine, store, pending writes, timers) an event can
 * change: the node it happens at, and the peers whose machines learn of a
 * dropped or established connection. Everything else only reads them.
 */
export function touchedNodes(world: World, event: SimEvent): string[] {
  switch (event.kind) {
    case 'submit':
      return [COORDINATOR]
    case 'deliver':
      return [world.net.find((m) => m.id === event.msg)!.to]
    case 'persist':
    case 'storeRead':
    case 'timer':
    case 'restart':
      return [event.node]
    case 'crash':
    case 'powerLoss':
      return event.node === COORDINATOR ? Object.keys(world.nodes) : [event.node, COORDINATOR]
    case 'connect':
    case 'disconnect':
      return [event.participant, COORDINATOR]
    case 'backup':
      return []
  }
}

/**
 * A copy for applying one event: the world's own data is copied, and of the
 * nodes only those the event touches; the others are shared with the parent,
 * which the exhaustive search never changes again (copy-on-write). In-flight
 * messages are never changed once sent (they are added and removed whole),
 * so the new network shares them too.
 */
export function cloneForEvent(world: World, event: SimEvent, shareAll = false): World {
  const touched = new Set(shareAll ? [] : touchedNodes(world, event))
  const { nodes, net, ...rest } = world
  const copy = deepCopy(rest) as Omit<World, 'nodes' | 'net'>
  const copiedNodes: Record<string, SimNode> = {}
  for (const [name, node] of Object.entries(nodes)) copiedNodes[name] = touched.has(name) ? deepCopy(node) : node
  return { ...copy, net: net.slice(), nodes: copiedNodes }
}

/**
 * A world is only Maps, arrays and plain data: a direct deep copy is several
 * times cheaper than structuredClone. Plain loops: it runs for every
 * transition the model checker explores.
 */
function deepCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>()
    for (const [k, v] of value as Map<unknown, unknown>) copy.set(k, deepCopy(v))
    return copy as T
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length)
    for (let i = 0; i < value.length; i++) copy[i] = deepCopy(value[i])
    return copy as T
  }
  // An object keyed by user input has no prototype (keyed-object.ts); its copy must not have one either.
  const copy: Record<string, unknown> = Object.getPrototypeOf(value) === null ? (Object.create(null) as Record<string, unknown>) : {}
  const source = value as Record<string, unknown>
  for (const k in source) copy[k] = deepCopy(source[k])
  return copy as T
}
