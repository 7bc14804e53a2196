import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import t from 'tap'
import { LocalCluster } from '../helpers/cluster.ts'

t.test('a node whose store holds a corrupt record stops at start with one line naming the key', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-corrupt-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 1 })
  t.teardown(async () => {
    await cluster.stopAll()
    rmSync(dataRoot, { recursive: true, force: true })
  })
  for (const [node, key, value] of [['p1', 'kv/a', { value: 'x', version: {} }], ['coordinator', 'tx/1.1', { txId: '1.1', outcome: 'perhaps' }]] as const) {
    const db = new ClassicLevel<string, unknown>(cluster.spec(node).dataDir, { valueEncoding: 'json' })
    await db.put(key, value)
    await db.close()
    const child = cluster.launch(node)
    const code = await new Promise<number | null>((ok) => child.once('exit', ok))
    t.equal(code, 1, `${node} exits with status 1`)
    const log = readFileSync(join(dataRoot, `${node}.log`), 'utf8')
    t.match(log, new RegExp(`^corrupt record at key "${key}": /[a-z]* ?[a-z]+ .*; the node stops rather than trust it`, 'm'), `${node} names the key and what is wrong`)
    t.notMatch(log, /fatal:|\n\s+at /, 'one line, no stack')
  }
})
