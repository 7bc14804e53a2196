import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import madge from 'madge'
import t from 'tap'

const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** The rule ids ESLint reports for `source` as if it were the file at `filePath`. */
async function ruleIds(filePath: string, source: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: repoRoot })
  const [result] = await eslint.lintText(source, { filePath: `${repoRoot}${filePath}` })
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`)
}

t.test('npm run lint fails on core code that reaches for I/O, the simulator, a clock or chance; and on I/O that imports the simulator', async (t) => {
  const core = 'shared/core/protocol/hash.ts'
  const cases: [string, string, RegExp][] = [
    [core, "import { readFileSync } from 'node:fs'\nexport const f = readFileSync\n", /no-restricted-imports: .*shared\/core is pure: no Node APIs/],
    [core, "import { readFileSync } from 'fs'\nexport const f = readFileSync\n", /no-restricted-imports: .*no Node APIs/],
    [core, "import { WebSocket } from 'ws'\nexport const w = WebSocket\n", /no-restricted-imports: .*no I\/O library/],
    [core, "import { pino } from 'pino'\nexport const p = pino\n", /no-restricted-imports: .*no I\/O library/],
    [core, "import { marks } from '../../io/runtime/marks.ts'\nexport const m = marks\n", /no-restricted-imports: .*shared\/core may not import from io, sim/],
    [core, "import { COORDINATOR } from '../../sim/model.ts'\nexport const c = COORDINATOR\n", /no-restricted-imports: .*shared\/core may not import from io, sim/],
    [core, 'export const now = (): number => Date.now()\n', /no-restricted-properties: .*no clock/],
    [core, 'export const r = (): number => Math.random()\n', /no-restricted-properties: .*no randomness/],
    [core, 'export const later = (f: () => void): unknown => setTimeout(f, 1)\n', /no-restricted-globals: .*no timers/],
    ['shared/io/runtime/timers.ts', "import { COORDINATOR } from '../../sim/model.ts'\nexport const c = COORDINATOR\n", /no-restricted-imports: .*shared\/io may not import from sim/],
    ['services/coordinator/config.ts', "import { COORDINATOR } from '../../shared/sim/model.ts'\nexport const c = COORDINATOR\n", /no-restricted-imports: .*services may not import from sim/],
    ['shared/sim/configs.ts', "import { marks } from '../io/runtime/marks.ts'\nexport const m = marks\n", /no-restricted-imports: .*shared\/sim may not import from io/],
  ]
  for (const [file, source, expected] of cases) {
    const ids = await ruleIds(file, source)
    t.ok(ids.some((id) => expected.test(id)), `${file} with ${source.split('\n')[0]!}: ${ids.join('; ') || 'no error'}`)
  }
  t.same(await ruleIds(core, "import type { Write } from './types.ts'\nexport const n = (w: Write): number => w.key.length\n"), [], 'pure code passes')
})

t.test('no import cycle between files, nor between folders', async (t) => {
  const graph = (await madge(['shared', 'services', 'scripts'], { baseDir: repoRoot, fileExtensions: ['ts'], tsConfig: `${repoRoot}tsconfig.json` })).obj()
  t.ok(Object.keys(graph).length > 60, `the graph holds the whole tree (${Object.keys(graph).length} files)`)
  t.same(cyclesOf(graph), [], 'no file cycle')
  const folders: Record<string, string[]> = {}
  for (const [file, deps] of Object.entries(graph)) {
    const from = folderOf(file)
    folders[from] = [...new Set([...(folders[from] ?? []), ...deps.map(folderOf).filter((to) => to !== from)])]
  }
  t.same(cyclesOf(folders), [], 'no folder cycle')
  t.same(cyclesOf({ a: ['b'], b: ['c'], c: ['a'], d: [] }), [['a', 'b', 'c', 'a']], 'the cycle finder finds a cycle')
})

const folderOf = (file: string): string => file.slice(0, file.lastIndexOf('/'))

/** Every cycle reached by depth-first search (one per back edge), as the path that closes it. */
function cyclesOf(graph: Record<string, string[]>): string[][] {
  const cycles: string[][] = []
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string): void => {
    state.set(node, 'open')
    path.push(node)
    for (const next of graph[node] ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next])
      else if (!state.has(next)) visit(next)
    }
    path.pop()
    state.set(node, 'done')
  }
  for (const node of Object.keys(graph).sort()) if (!state.has(node)) visit(node)
  return cycles
}
