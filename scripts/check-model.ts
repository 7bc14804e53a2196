import { parseArgs } from 'node:util'
import { blockingContrast, bugConfigs, modelConfigs, openConfigs, paxosBugConfigs, paxosConfigs } from '../shared/sim/configs.ts'
import { exploreExhaustive } from '../shared/sim/explore.ts'
import type { SimConfig } from '../shared/sim/world.ts'

/** Run by default: today's bounds, and Paxos Commit's one that completes here. */
const defaults: Record<string, SimConfig> = { ...modelConfigs, 'paxos-two-participants-coordinator-gone': paxosConfigs['paxos-two-participants-coordinator-gone']! }
/** Only when named. */
const named: Record<string, SimConfig> = { ...openConfigs, ...paxosConfigs }
/** Each must be caught (exit 0 when it is). */
const bugs: Record<string, SimConfig> = { ...bugConfigs, ...paxosBugConfigs, '2pc-blocks-without-coordinator': blockingContrast }

const usage = `npm run check:model -- [--config NAME]... [--bug NAME] [--crashes N] [--power-losses N] [--fifo] [--no-por] [--max-states N] [--no-symmetry]
Explores every interleaving of the real coordinator and participant state
machines within small bounds. --crashes N: process crashes (unsynced writes
survive in the page cache); --power-losses N: machine crashes (any unsynced
write may be lost). --fifo: each connection delivers in order (as
one WebSocket does), which also allows partial-order reduction once no fault
budget is left (--no-por turns it off). Configurations (all of them by
default, minutes each): ${Object.keys(defaults).join(', ')}; only when named
(hours, not complete here): ${Object.keys(named).join(', ')}.
Flawed variants (--bug): ${Object.keys(bugs).join(', ')}. Exit 1 on a violation.`

const { values } = parseArgs({
  options: {
    config: { type: 'string', multiple: true },
    bug: { type: 'string' },
    crashes: { type: 'string' },
    'power-losses': { type: 'string' },
    'max-states': { type: 'string', default: '20000000' },
    'no-symmetry': { type: 'boolean', default: false },
    fifo: { type: 'boolean', default: false },
    'no-por': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(usage)
  process.exit(0)
}
const chosen: [string, SimConfig][] = values.bug !== undefined
  ? [[`bug:${values.bug}`, bugs[values.bug] ?? fail(`unknown bug ${values.bug}`)]]
  : (values.config ?? Object.keys(defaults)).map((name) => [name, defaults[name] ?? named[name] ?? fail(`unknown config ${name}`)])

function fail(message: string): never {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

let violations = 0
const rows: Record<string, unknown>[] = []
for (const [name, base] of chosen) {
  const config = { ...base, ...(values.crashes === undefined ? {} : { maxCrashes: Number(values.crashes) }), ...(values['power-losses'] === undefined ? {} : { maxPowerLosses: Number(values['power-losses']) }), ...(values.fifo ? { fifo: true } : {}) }
  const r = exploreExhaustive(config, { maxStates: Number(values['max-states']), symmetry: !values['no-symmetry'], partialOrder: !values['no-por'], onProgress: (p) => { process.stderr.write(`\r${name}: ${p.distinct} distinct, ${p.transitions} transitions, ${Math.round(p.timeMs / 1000)} s   `) } })
  process.stderr.write('\n')
  const paxos = config.protocol === 'paxos-commit'
  rows.push({ config: name, protocol: config.protocol ?? '2pc', fifo: config.fifo === true, por: config.fifo === true && !values['no-por'] && !paxos, symmetry: !values['no-symmetry'] && !paxos, participants: config.participants, txns: config.txns.length, crashes: config.maxCrashes, 'power losses': config.maxPowerLosses ?? 0, transitions: r.transitions, distinct: r.distinct, terminal: r.terminal, depth: r.maxDepth, complete: r.complete, ms: r.timeMs, result: r.violation ? `VIOLATION ${r.violation.code}` : 'ok' })
  if (r.violation) {
    violations++
    console.log(`\n${name}: invariant "${r.violation.code}" violated: ${r.violation.detail}`)
    r.violation.trace.forEach((line, i) => { console.log(`${String(i).padStart(4)}. ${line}`) })
    const flags = [values.crashes === undefined ? '' : ` --crashes ${values.crashes}`, values['power-losses'] === undefined ? '' : ` --power-losses ${values['power-losses']}`, values.fifo ? ' --fifo' : '', values['no-por'] ? ' --no-por' : '', values['no-symmetry'] ? ' --no-symmetry' : ''].join('')
    console.log(`replay: npm run check:model -- ${values.bug !== undefined ? `--bug ${values.bug}` : `--config ${name}`}${flags}`)
  }
}
console.table(rows)
process.exitCode = violations > 0 && values.bug === undefined ? 1 : 0
