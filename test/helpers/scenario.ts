import { checkQuiescent, checkSafety } from '../../shared/sim/invariants.ts'
import { COORDINATOR, participantNames, type SimConfig, type SimEvent, type World } from '../../shared/sim/model.ts'
import { applyEvent, createWorld, describeMsg, enabledEvents } from '../../shared/sim/world.ts'

/**
 * Scenario scripts in the style of etcd raft's testdata (datadriven): each
 * block is a command, a `----` line, and the output the simulator gives for
 * it, so a test reads as the protocol's story. The very machines the
 * services run are stepped; nothing is mocked.
 *
 *   config participants=2 bugs=voteBeforeDurable   (first, once)
 *   txn c1 a=1 b=2@v0 c=3@absent                    (a client's writes, with ifVersion / ifAbsent)
 *   submit c1 | deliver <to> [from] | duplicate <to> [from] | persist <node>
 *   timer <node> <key> | crash <node> | restart <node> | disconnect <p> | connect <p>
 *   power-loss <node> [keep=MASK]   a machine crash: unsynced writes lost, except those in MASK (bit i: the i-th oldest)
 *   net            the messages in flight, oldest first
 *   timers <node>  that node's armed timers
 *   check          safety now, and progress if nothing is left to happen
 */
export interface Block {
  /** `#` lines before the command: what the step is about. */
  comments: string[]
  command: string
  expected: string
}

export function parseScenario(text: string): Block[] {
  const blocks: Block[] = []
  let comments: string[] = []
  for (const chunk of text.split(/\n\n+/).map((c) => c.trim()).filter((c) => c !== '')) {
    const lines = chunk.split('\n')
    const lead = lines.findIndex((line) => !line.startsWith('#'))
    comments.push(...lines.slice(0, lead < 0 ? lines.length : lead))
    if (lead < 0) continue
    const rest = lines.slice(lead)
    if (rest[1] !== '----') throw new Error(`a block is one command, "----", and its output: ${chunk}`)
    blocks.push({ comments, command: rest[0]!, expected: rest.slice(2).join('\n') })
    comments = []
  }
  return blocks
}

export function formatScenario(blocks: readonly Block[]): string {
  return `${blocks.map((b) => [...b.comments, b.command, '----', b.expected].join('\n').trimEnd()).join('\n\n')}\n`
}

/** Runs the commands in order; returns each block with the output it actually gave. */
export function runScenario(blocks: readonly Block[]): Block[] {
  const config: SimConfig = { participants: 2, txns: [], maxCrashes: 99, maxPowerLosses: 99, maxDisconnects: 99, maxDuplicates: 99, crashable: ['coordinator', 'participant'], timers: 'all', clientRetries: true, fifo: true }
  let world: World | undefined
  const out: Block[] = []
  for (const block of blocks) {
    const [verb, ...args] = block.command.split(/\s+/)
    if (verb === 'config' || verb === 'txn') {
      if (world) throw new Error(`${verb} must come before the first event`)
      if (verb === 'config') configure(config, args)
      else config.txns.push({ clientId: args[0]!, writes: args.slice(1).map(parseWrite) })
      out.push({ ...block, expected: '' })
      continue
    }
    world ??= createWorld(config)
    out.push({ ...block, expected: perform(config, world, verb!, args) })
  }
  return out
}

function configure(config: SimConfig, args: string[]): void {
  for (const arg of args) {
    const [name, value] = arg.split('=') as [string, string]
    if (name === 'participants') config.participants = Number(value)
    else if (name === 'bugs') config.bugs = Object.fromEntries(value.split(',').map((b) => [b, true]))
    else throw new Error(`unknown config ${name}`)
  }
}

function parseWrite(spec: string): SimConfig['txns'][number]['writes'][number] {
  const match = /^([^=]+)=([^@]*)(?:@(v\d+|absent))?$/.exec(spec)
  if (!match) throw new Error(`a write is key=value[@vN|@absent]: ${spec}`)
  const [, key, value, precondition] = match as unknown as [string, string, string, string | undefined]
  if (precondition === 'absent') return { key, value, ifAbsent: true }
  if (precondition !== undefined) return { key, value, ifVersion: Number(precondition.slice(1)) }
  return { key, value }
}

function perform(config: SimConfig, world: World, verb: string, args: string[]): string {
  switch (verb) {
    case 'submit': {
      const client = config.txns.findIndex((t) => t.clientId === args[0])
      return step(config, world, { kind: 'submit', client })
    }
    case 'deliver':
    case 'duplicate': {
      const m = world.net.find((x) => x.to === args[0] && (args[1] === undefined || x.from === args[1]))
      if (!m) return `nothing in flight to ${args[0]}${args[1] === undefined ? '' : ` from ${args[1]}`}`
      return step(config, world, { kind: 'deliver', msg: m.id, duplicate: verb === 'duplicate' })
    }
    case 'persist':
      return step(config, world, { kind: 'persist', node: args[0]! })
    case 'timer':
      return step(config, world, { kind: 'timer', node: args[0]!, timer: args[1]! })
    case 'crash':
      return step(config, world, { kind: 'crash', node: args[0]!, restart: false })
    case 'power-loss': {
      const keep = args[1] === undefined ? 0 : Number(/^keep=(\d+)$/.exec(args[1])?.[1] ?? NaN)
      if (!Number.isInteger(keep)) throw new Error(`power-loss <node> [keep=MASK]: ${args.join(' ')}`)
      return step(config, world, { kind: 'powerLoss', node: args[0]!, restart: false, keep })
    }
    case 'restart':
      return step(config, world, { kind: 'restart', node: args[0]! })
    case 'disconnect':
      return step(config, world, { kind: 'disconnect', participant: args[0]! })
    case 'connect':
      return step(config, world, { kind: 'connect', participant: args[0]! })
    case 'net':
      return world.net.map((m) => `${m.from} → ${m.to}: ${describeMsg(m.msg)}`).join('\n') || '(nothing in flight)'
    case 'timers':
      return [...world.nodes[args[0]!]!.timers.keys()].sort().join('\n') || '(none)'
    case 'check':
      return check(config, world)
    default:
      throw new Error(`unknown command ${verb}`)
  }
}

/** Applies an event the world allows, and says what the machines did; an event it does not allow is refused. */
function step(config: SimConfig, world: World, event: SimEvent): string {
  // A crash here never restarts on its own (`restart` is a separate command): compare without that flag.
  const shape = (e: SimEvent): string => JSON.stringify(e.kind === 'crash' || e.kind === 'powerLoss' ? { ...e, restart: false } : e)
  if (!enabledEvents(config, world).some((e) => shape(e) === shape(event))) return `not possible now: ${JSON.stringify(event)}`
  const before = world.clients.map((c) => c.status)
  const lines = [applyEvent(config, world, event)]
  for (const [i, c] of world.clients.entries()) {
    if (c.status === before[i]) continue
    const client = config.txns[c.txn]!.clientId
    if (c.status === 'answered') lines.push(`  client ${client} is told ${c.outcome}${c.txId === undefined ? '' : ` (${c.txId})`}`)
    else if (c.status === 'cut') lines.push(`  client ${client} is cut off`)
  }
  const line = lines.join('\n')
  const safety = checkSafety(world, participantNames(config))
  return safety ? `${line}\nVIOLATION ${safety.code}: ${safety.detail}` : line
}

function check(config: SimConfig, world: World): string {
  const safety = checkSafety(world, participantNames(config))
  if (safety) return `VIOLATION ${safety.code}: ${safety.detail}`
  const pending = enabledEvents({ ...config, timers: 'protocol' }, world).filter((e) => e.kind === 'deliver' || e.kind === 'persist' || e.kind === 'submit' || e.kind === 'restart' || e.kind === 'connect' || (e.kind === 'timer' && e.timer.startsWith('vote:')))
  if (pending.length > 0) return `safe; ${pending.length} event(s) still to happen`
  const quiet = checkQuiescent(config, world)
  const told = world.clients.map((c) => `${config.txns[c.txn]!.clientId}: ${c.outcome ?? c.status}`).join(', ')
  return quiet ? `VIOLATION ${quiet.code}: ${quiet.detail}` : `safe and quiescent; clients told ${told}; coordinator ${world.nodes[COORDINATOR]!.up ? 'up' : 'down'}`
}
