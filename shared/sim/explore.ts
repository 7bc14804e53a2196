import { checkQuiescent, checkSafety, type Violation } from './invariants.ts'
import { persistentSet } from './partial-order.ts'
import { bucketTwins } from './bucket-twins.ts'
import { Prng } from '../core/prng.ts'
import { Fingerprinter, fingerprint } from './fingerprint.ts'
import { FingerprintSet } from './fingerprint-set.ts'
import { applyEvent, cloneForEvent, createWorld, enabledEvents, participantNames, type SimConfig, type SimEvent, type SimTxn, type World } from './world.ts'

export interface Counterexample extends Violation {
  trace: string[]
}

export interface ExhaustiveResult {
  transitions: number
  distinct: number
  terminal: number
  maxDepth: number
  timeMs: number
  complete: boolean
  violation?: Counterexample
}

/** A trace as a chain of steps back to the initial state (sharing prefixes costs nothing). */
interface Step {
  line: string
  depth: number
  parent?: Step
}

function traceOf(step: Step): string[] {
  const lines: string[] = []
  for (let s: Step | undefined = step; s; s = s.parent) lines.push(s.line)
  return lines.reverse()
}

export interface ExploreOptions {
  maxStates?: number
  /**
   * Test aid: after every transition, check that the parent world is
   * unchanged, i.e. that copy-on-write shared only nodes the event did not
   * touch. Doubles the cost.
   */
  verifySharing?: boolean
  /** Visit one world per class of worlds equal up to renaming participants (see fingerprint.ts). Default on. */
  symmetry?: boolean
  /** Called every `progressEvery` (100,000) distinct states: long runs show that they move. */
  onProgress?: (progress: { distinct: number; transitions: number; timeMs: number }) => void
  progressEvery?: number
  /** Test aid: share every node, touched or not (broken on purpose, to show that verifySharing catches it). */
  unsafeShareAll?: boolean
  /** Hash canonical strings with MD5 (the slower reference) instead of structural hashes. */
  exactForms?: boolean
  /** Explore persistent sets only where partial-order.ts allows (FIFO configurations, no fault budget left). Default on. */
  partialOrder?: boolean
  /** Test aid: called with the fingerprint of every terminal state. */
  onTerminal?: (digest: string) => void
  /**
   * Test aid: throw if the state graph has a cycle (a successor that is on the
   * current search path). Partial-order reduction's argument assumes none.
   */
  verifyAcyclic?: boolean
}

/**
 * Depth-first search over every interleaving of deliveries, persist
 * completions, timer firings, client requests and faults within the
 * configuration's budgets, as TLC and the P checker do. Visited states are
 * remembered by a 128-bit fingerprint of their canonical form. Safety is checked
 * after every transition; progress and convergence at every terminal state.
 * Successor worlds copy only the nodes an event touches and share the rest,
 * whose canonical forms are then computed once; worlds equal up to renaming
 * participants are visited once (symmetry reduction). With FIFO connections
 * (config.fifo), once no fault budget is left only a persistent set of
 * events is explored (partial-order.ts): every terminal state is still
 * reached, and the safety checks are stable, so none is missed.
 */
export function exploreExhaustive(config: SimConfig, options: ExploreOptions = {}): ExhaustiveResult {
  const { maxStates = 5_000_000, verifySharing = false, unsafeShareAll = false, symmetry = true, exactForms = false, partialOrder = true, onTerminal, verifyAcyclic = false, onProgress, progressEvery = 100_000 } = options
  const started = Date.now()
  const visited = new FingerprintSet()
  // Paxos Commit's ballots belong to participants by their index: renaming participants is not a symmetry there.
  const fingerprinter = new Fingerprinter(config, symmetry && config.protocol !== 'paxos-commit', exactForms)
  const names = participantNames(config)
  const result: ExhaustiveResult = { transitions: 0, distinct: 0, terminal: 0, maxDepth: 0, timeMs: 0, complete: true }
  // A `leave` frame marks the end of a state's successors: the states entered and not left are the search path.
  const stack: ({ world: World; step: Step } | { leave: string })[] = [{ world: createWorld(config), step: { line: 'initial: every node up, every connection established', depth: 0 } }]
  const onPath = new Set<string>()
  while (stack.length > 0) {
    const frame = stack.pop()!
    if ('leave' in frame) {
      onPath.delete(frame.leave)
      continue
    }
    const { world, step } = frame
    const digest = fingerprinter.digest(world)
    if (verifyAcyclic) {
      const key = Buffer.from(digest).toString('hex')
      if (onPath.has(key)) throw new Error(`the state graph has a cycle, closed by: ${step.line}`)
      if (!visited.add(digest)) continue
      onPath.add(key)
      stack.push({ leave: key })
    } else if (!visited.add(digest)) continue
    if (visited.size % progressEvery === 0) onProgress?.({ distinct: visited.size, transitions: result.transitions, timeMs: Date.now() - started })
    result.maxDepth = Math.max(result.maxDepth, step.depth)
    if (visited.size >= maxStates) {
      result.complete = false
      break
    }
    const enabled = enabledEvents(config, world)
    const events = partialOrder ? persistentSet(config, world, enabled) : enabled
    if (events.length === 0) {
      result.terminal++
      onTerminal?.(fingerprinter.of(world))
      const v = checkQuiescent(config, world)
      if (v) {
        result.violation = { ...v, trace: [...traceOf(step), '(quiescent: nothing left to happen)'] }
        result.complete = false
        break
      }
      continue
    }
    const before = verifySharing ? fingerprint(world) : ''
    for (const event of events) {
      const next = cloneForEvent(world, event, unsafeShareAll)
      const line = applyEvent(config, next, event)
      result.transitions++
      if (verifySharing && fingerprint(world) !== before) throw new Error(`copy-on-write broken: "${line}" changed a node it shares with its parent`)
      const v = checkSafety(next, names)
      const nextStep: Step = { line, depth: step.depth + 1, parent: step }
      if (v) {
        result.violation = { ...v, trace: traceOf(nextStep) }
        result.complete = false
        stack.length = 0
        break
      }
      stack.push({ world: next, step: nextStep })
    }
  }
  result.distinct = visited.size
  result.timeMs = Date.now() - started
  return result
}

export interface RandomRunOptions {
  maxSteps: number
  /** Faults may be injected during the first faultSteps steps; then everything heals. */
  faultSteps: number
  rates: { crash: number; disconnect: number; duplicate: number }
}

export interface RandomRunResult {
  seed: number
  steps: number
  committed: number
  faults: number
  violation?: Counterexample
  trace: string[]
}

const isFault = (e: SimEvent): boolean => e.kind === 'crash' || e.kind === 'powerLoss' || e.kind === 'disconnect' || (e.kind === 'deliver' && e.duplicate)

/**
 * One run driven by a seeded PRNG: a run is a pure function of (seed, config).
 * Time advances a little each step; timers fire when due. After faultSteps,
 * crashed nodes restart and connections heal, and the run goes on until
 * nothing is left to do; then progress and convergence are checked.
 */
export function randomRun(config: SimConfig, seed: number, options: RandomRunOptions): RandomRunResult {
  const prng = new Prng(seed)
  const world = createWorld(config)
  const trace: string[] = ['initial: every node up, every connection established']
  const stats = (): { committed: number; faults: number } => ({
    committed: world.clients.filter((c) => c.outcome === 'committed').length,
    faults: config.maxCrashes - world.budget.crashes + (config.maxPowerLosses ?? 0) - world.budget.powerLosses + config.maxDisconnects - world.budget.disconnects + config.maxDuplicates - world.budget.duplicates,
  })
  const fail = (v: Violation, steps: number): RandomRunResult => ({ seed, steps, ...stats(), violation: { ...v, trace }, trace })
  for (let stepNo = 1; stepNo <= options.maxSteps; stepNo++) {
    world.now += prng.int(0, 1)
    const faulty = stepNo <= options.faultSteps
    const all = enabledEvents(config, world).filter((e) => due(config, world, e))
    const calm = all.filter((e) => !isFault(e) && !(e.kind === 'restart' && faulty && prng.chance(0.7)))
    const event = faulty ? chooseFault(prng, all, options.rates) ?? pickCalm(prng, calm) : healingEvent(all) ?? pickCalm(prng, calm)
    if (!event) {
      // Nothing to do now: jump to the next timer, at most 1 s ahead (with every node down none is armed: only a restart is left to come).
      world.now = Math.max(world.now + 1, Math.min(nextTimer(world), world.now + 1000))
      continue
    }
    trace.push(applyEvent(config, world, event))
    const v = checkSafety(world, participantNames(config))
    if (v) return fail(v, stepNo)
    if (!faulty && settled(world)) {
      const q = checkQuiescent(config, world)
      return q ? fail(q, stepNo) : { seed, steps: stepNo, ...stats(), trace }
    }
  }
  return fail({ code: 'progress', detail: `not settled after ${options.maxSteps} steps` }, options.maxSteps)
}

/** Timers fire when due; a client sends its first request at its start time. */
function due(config: SimConfig, world: World, e: SimEvent): boolean {
  if (e.kind === 'timer') return world.nodes[e.node]!.timers.get(e.timer)!.at <= world.now
  if (e.kind === 'submit') return world.clients[e.client]!.status !== 'idle' || (config.txns[e.client]!.startAt ?? 0) <= world.now
  return true
}

function chooseFault(prng: Prng, events: SimEvent[], rates: RandomRunOptions['rates']): SimEvent | undefined {
  const pick = (kind: (e: SimEvent) => boolean, rate: number): SimEvent | undefined => {
    const candidates = events.filter(kind)
    return candidates.length > 0 && prng.chance(rate) ? prng.pick(candidates) : undefined
  }
  return pick((e) => e.kind === 'crash' || e.kind === 'powerLoss', rates.crash) ?? pick((e) => e.kind === 'disconnect', rates.disconnect) ?? pick((e) => e.kind === 'deliver' && e.duplicate, rates.duplicate)
}

/** After the fault phase: restart what is down and reconnect what is cut, first. */
function healingEvent(events: SimEvent[]): SimEvent | undefined {
  return events.find((e) => e.kind === 'restart') ?? events.find((e) => e.kind === 'connect')
}

function pickCalm(prng: Prng, events: SimEvent[]): SimEvent | undefined {
  return events.length > 0 ? prng.pick(events) : undefined
}

function settled(world: World): boolean {
  return (
    world.clients.every((c) => c.status === 'answered') &&
    world.net.length === 0 &&
    Object.values(world.nodes).every((n) => n.up && n.persists.length === 0 && (n.participant?.prepared.size ?? 0) === 0) &&
    Object.values(world.links).every((l) => l.connected)
  )
}

function nextTimer(world: World): number {
  let next = Infinity
  for (const node of Object.values(world.nodes)) for (const { at } of node.timers.values()) next = Math.min(next, at)
  return next
}

/** Clients issuing concurrent transactions on overlapping keys, some with preconditions. */
export function makeWorkload(prng: Prng, txns: number, keys: number, preconditionRate: number): SimTxn[] {
  let startAt = 0
  return Array.from({ length: txns }, (_, i) => {
    startAt += prng.int(0, 25)
    const chosen = new Set<string>()
    const count = prng.int(1, Math.min(2, keys))
    while (chosen.size < count) chosen.add(`k${prng.int(1, keys)}`)
    return {
      clientId: `c${i}`,
      startAt,
      writes: [...chosen].map((key) => {
        if (!prng.chance(preconditionRate)) return { key, value: `v${i}` }
        return prng.chance(0.5) ? { key, value: `v${i}`, ifAbsent: true } : { key, value: `v${i}`, ifVersion: prng.int(0, 2) }
      }),
    }
  })
}

/**
 * Turns about a quarter of the writes into deletes, and names the keys so
 * that they all share one version floor: every create and delete then
 * contends on it, which random keys would almost never do.
 */
function withDeletes(txns: SimTxn[], prng: Prng): void {
  const names = new Map<string, string>()
  const twins = bucketTwins('k', 12)
  for (const txn of txns) {
    txn.writes = txn.writes.map((w) => {
      const key = names.get(w.key) ?? twins[names.size]!
      names.set(w.key, key)
      const { ifVersion, ifAbsent } = w
      const precondition = { ...(ifVersion === undefined ? {} : { ifVersion }), ...(ifAbsent === undefined ? {} : { ifAbsent }) }
      return prng.chance(0.25) ? { key, delete: true, ...precondition } : { ...w, key }
    })
  }
}

/** Per seed, a varied configuration (swarm testing): fault rates, sizes and contention differ from seed to seed. */
export function swarmConfig(seed: number, participants = 5, protocol: '2pc' | 'paxos-commit' = '2pc', cache = false): { config: SimConfig; options: RandomRunOptions } {
  const prng = new Prng(seed ^ 0x5eed)
  const config: SimConfig = {
    participants,
    txns: makeWorkload(prng, prng.int(12, 40), prng.int(3, 12), prng.pick([0, 0.2, 0.5])),
    maxCrashes: prng.int(0, 4),
    maxDisconnects: prng.int(0, 4),
    maxDuplicates: prng.int(0, 6),
    crashable: ['coordinator', 'participant'],
    timers: 'all',
    clientRetries: true,
  }
  const rate = prng.pick([0.005, 0.02, 0.05])
  // Drawn last, so that the other draws (and the configurations of seeds from before power loss) stay as they were.
  config.maxPowerLosses = prng.int(0, 3)
  if (protocol === 'paxos-commit') {
    config.protocol = protocol
    config.maxRecoveryRounds = 1000
    // Drawn last as well: a third of the seeds keep their markers for ever, as before.
    const retention = prng.pick([0, 100, 400])
    if (retention > 0) config.participantRetentionMs = retention
  }
  // Drawn after everything else: half the seeds claim client ids in the replicas, as the services do.
  if (prng.pick([false, true])) config.clientIdClaims = true
  const options = { maxSteps: 200_000, faultSteps: prng.int(100, 1500), rates: { crash: rate, disconnect: rate, duplicate: rate * 2 } }
  // Drawn after that: half the seeds delete too, on keys that share one version floor (bucket-twins.ts).
  if (prng.pick([false, true])) withDeletes(config.txns, prng)
  // Replicas larger than memory: a cache so small that every key no transaction holds is evicted after each step.
  // Asked for, not drawn: a seed's run stays what it was (the regression seeds replay as found).
  if (cache) config.cacheBytes = 1
  return { config, options }
}

