import { parseArgs } from 'node:util'
import { randomRun, swarmConfig } from '../shared/sim/explore.ts'
import type { SimConfig } from '../shared/sim/world.ts'

const usage = `npm run check:sim -- [--seeds N] [--first-seed S] [--seed S] [--participants 5] [--protocol 2pc|paxos-commit] [--bug NAME] [--cache] [--trace]
Runs the real state machines in the deterministic simulator, one run per seed,
each seed with its own swarm configuration (sizes, contention, fault rates).
--seed S replays one seed and prints its whole trace. Exit 1 on a violation.
--cache: participants hold their replicas in a replica cache so small that
every key no transaction holds is evicted, and each load or scan reads the
store as an event of its own.
Faults: process crashes, power losses (unsynced writes lost), dropped
connections, duplicated messages. Bugs: reply-before-durable,
vote-before-durable, prepare-without-fsync, decision-without-fsync,
naive-backup-coordinator, stale-loads (with --cache); under --protocol paxos-commit also
leader-proposes-prepared, accept-before-durable, small-quorum, skip-phase-1.`

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '200' },
    'first-seed': { type: 'string', default: '1' },
    seed: { type: 'string' },
    participants: { type: 'string', default: '5' },
    protocol: { type: 'string', default: '2pc' },
    bug: { type: 'string' },
    trace: { type: 'boolean', default: false },
    cache: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}

function withBug(config: SimConfig, bug: string | undefined): SimConfig {
  switch (bug) {
    case undefined:
      return config
    case 'reply-before-durable':
      return { ...config, bugs: { replyBeforeDurable: true } }
    case 'vote-before-durable':
      return { ...config, bugs: { voteBeforeDurable: true } }
    case 'prepare-without-fsync':
      return { ...config, bugs: { prepareWithoutSync: true } }
    case 'decision-without-fsync':
      return { ...config, bugs: { decisionWithoutSync: true } }
    case 'naive-backup-coordinator':
      return { ...config, backup: true }
    case 'stale-loads':
      return { ...config, bugs: { staleLoads: true } }
    case 'leader-proposes-prepared':
      return { ...config, bugs: { leaderProposesPrepared: true } }
    case 'accept-before-durable':
      return { ...config, bugs: { acceptBeforeDurable: true } }
    case 'small-quorum':
      return { ...config, bugs: { smallQuorum: true } }
    case 'skip-phase-1':
      return { ...config, bugs: { skipPhase1: true } }
    default:
      console.error(`unknown bug ${bug}\n${usage}`)
      process.exit(2)
  }
}

/** A machine that breaks one of its invariants throws (InvariantViolation): a failing seed like any other, to be replayed. */
function runSeed(config: SimConfig, seed: number, options: Parameters<typeof randomRun>[2]): ReturnType<typeof randomRun> {
  try {
    return randomRun(config, seed, options)
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    return { seed, steps: 0, committed: 0, faults: 0, violation: { code: 'exception', detail, trace: [] }, trace: [] }
  }
}

function protocolOf(name: string): '2pc' | 'paxos-commit' {
  if (name === '2pc' || name === 'paxos-commit') return name
  console.error(`unknown protocol ${name}\n${usage}`)
  process.exit(2)
}

const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values['first-seed']) + i)
const started = Date.now()
let steps = 0
let committed = 0
let faults = 0
let failed = 0
for (const seed of seeds) {
  const { config, options } = swarmConfig(seed, Number(values.participants), protocolOf(values.protocol), values.cache)
  const r = runSeed(withBug(config, values.bug), seed, options)
  steps += r.steps
  committed += r.committed
  faults += r.faults
  if (values.seed !== undefined && (values.trace || !r.violation)) r.trace.forEach((line, i) => { console.log(`${String(i).padStart(5)}. ${line}`) })
  if (!r.violation) continue
  failed++
  console.log(`\nseed ${seed}: invariant "${r.violation.code}" violated after ${r.steps} steps: ${r.violation.detail}`)
  const shown = values.trace || values.seed !== undefined ? r.trace : r.trace.slice(-60)
  const offset = r.trace.length - shown.length
  if (offset > 0) console.log(`   … ${offset} earlier steps (--seed ${seed} --trace shows all)`)
  shown.forEach((line, i) => { console.log(`${String(i + offset).padStart(5)}. ${line}`) })
  console.log(`replay: npm run check:sim -- --seed ${seed}${values.bug === undefined ? '' : ` --bug ${values.bug}`} --participants ${values.participants}${values.protocol === '2pc' ? '' : ` --protocol ${values.protocol}`}${values.cache ? ' --cache' : ''}`)
  if (values.bug !== undefined) break
}
console.table([{ runs: seeds.length, steps, committed, faults, violations: failed, ms: Date.now() - started, participants: Number(values.participants), bug: values.bug ?? 'none' }])
process.exitCode = failed > 0 && values.bug === undefined ? 1 : 0
