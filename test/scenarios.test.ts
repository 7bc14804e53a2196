import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { formatScenario, parseScenario, runScenario } from './helpers/scenario.ts'

/** UPDATE_SCENARIOS=1 rewrites each file with the output the simulator gives (then review the diff). */
const dir = new URL('./scenarios/', import.meta.url)
for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  t.test(`scenario ${file}`, async (t) => {
    const path = new URL(file, dir)
    const blocks = parseScenario(readFileSync(path, 'utf8'))
    const actual = runScenario(blocks)
    if (process.env.UPDATE_SCENARIOS === '1') writeFileSync(path, formatScenario(actual))
    for (const [i, block] of actual.entries()) t.equal(block.expected, blocks[i]!.expected, `${file}: ${block.command}`)
  })
}
