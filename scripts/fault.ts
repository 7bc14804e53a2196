import { parseArgs } from 'node:util'
import { faultKinds, type FaultKind } from '../services/chaos/faults.ts'
import { ChaosClient } from './lib/chaos-client.ts'

const usage = `npm run fault -- <command> [node] [--for MS] [--chaos-url URL]
One-shot faults through the chaos API, against the compose cluster (its
sidecar publishes the API on 127.0.0.1:8090) or the local one (\`npm start\`
serves the same API on 127.0.0.1:8090).

  kill <node>        SIGKILL the node; restarted after --for ms, else at heal;
                     --for never: killed for good (a heal of every fault leaves it down)
  pause <node>       freeze it (SIGSTOP / docker pause)
  partition <node>   cut it off from its peers
  heal [fault-id]    heal one fault (a kill for good too), or every fault but the
                     kills for good (and stop the schedule); --all: those too
  list               nodes, active faults and the schedule
  events             the fault log

Nodes: coordinator, p1, p2, … (see \`list\`). --chaos-url or CHAOS_URL overrides the API address.`

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { for: { type: 'string' }, all: { type: 'boolean', default: false }, 'chaos-url': { type: 'string', default: process.env.CHAOS_URL ?? 'http://127.0.0.1:8090' }, help: { type: 'boolean', default: false } },
  })
  const [command, node] = positionals
  if (values.help || command === undefined) {
    process.stdout.write(`${usage}\n`)
    process.exitCode = values.help ? 0 : 2
    return
  }
  const chaos = new ChaosClient(values['chaos-url'])
  if (faultKinds.includes(command as FaultKind)) {
    if (node === undefined) throw new Error(`${command} needs a node (see \`npm run fault -- list\`)`)
    const permanent = values.for === 'never'
    if (permanent && command !== 'kill') throw new Error('--for never: only a kill can be for good')
    const durationMs = values.for === undefined || permanent ? undefined : Number(values.for)
    if (durationMs !== undefined && !(Number.isInteger(durationMs) && durationMs >= 0)) throw new Error('--for wants milliseconds, or never')
    const fault = await chaos.inject({ kind: command as FaultKind, node, ...(durationMs === undefined ? {} : { durationMs }), ...(permanent ? { permanent } : {}) })
    print(fault)
  } else if (command === 'heal') {
    if (node === undefined) {
      const result = await chaos.healAll(values.all)
      print(result)
      if (result.failed.length > 0) process.exitCode = 1
    } else print(await chaos.heal(node))
  } else if (command === 'list') {
    print({ nodes: await chaos.nodes(), ...(await chaos.faults()) })
  } else if (command === 'events') {
    print(await chaos.events())
  } else {
    throw new Error(`unknown command "${command}"\n${usage}`)
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
