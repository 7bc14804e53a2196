import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import t from 'tap'
import { http, LocalCluster } from '../helpers/cluster.ts'

t.test('a node whose store holds a corrupt record stops at start with one line naming the key', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-corrupt-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 1 })
  t.teardown(async () => {
    await cluster.stopAll()
    rmSync(dataRoot, { recursive: true, force: true })
  })
  // A participant reads at start its PREPARED records, markers, acceptor records and version floors (not its entries).
  for (const [node, key, value] of [['p1', 'prep/1.1', { txId: '1.1', writes: 'x', versions: {}, preparedAt: 0 }], ['coordinator', 'tx/1.1', { txId: '1.1', outcome: 'perhaps' }]] as const) {
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

t.test('a corrupt entry of a replica that fits in the cache is read whole at start, and stops the participant with one line naming the key', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-corrupt-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 1 })
  t.teardown(async () => {
    await cluster.stopAll()
    rmSync(dataRoot, { recursive: true, force: true })
  })
  const db = new ClassicLevel<string, unknown>(cluster.spec('p1').dataDir, { valueEncoding: 'json' })
  await db.put('kv/a', { value: 'x', version: {} })
  await db.close()
  const child = cluster.launch('p1')
  t.equal(await new Promise<number | null>((ok) => child.once('exit', ok)), 1, 'p1 exits with status 1 at start')
  const log = readFileSync(join(dataRoot, 'p1.log'), 'utf8')
  t.match(log, /^corrupt record at key "kv\/a": \/version .*; the node stops rather than trust it/m, 'the key and what is wrong, on a line of its own')
})

t.test('a corrupt entry of a replica larger than the cache, read on demand (start-up keeps none), stops the participant with one line naming the key', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-corrupt-'))
  const cluster = await LocalCluster.create({ dataRoot, participants: 1, env: { CACHE_MB: '1' } })
  t.teardown(async () => {
    await cluster.stopAll()
    rmSync(dataRoot, { recursive: true, force: true })
  })
  const db = new ClassicLevel<string, unknown>(cluster.spec('p1').dataDir, { valueEncoding: 'json' })
  await db.put('kv/a', { value: 'x', version: {} })
  // More entries than 1 MB of cache could count (1 MB / 144 bytes): the start-up scan stops before their end and keeps none.
  await db.batch(Array.from({ length: 8000 }, (_, i) => ({ type: 'put' as const, key: `kv/f/${i}`, value: { value: '', version: 1 } })))
  await db.close()
  await cluster.startAll()
  const read = http(`${cluster.url}/v1/keys/a`, { dispatcher: cluster.dispatcher }).catch(() => undefined)
  t.match(await cluster.waitExit('p1'), { code: 1 }, 'p1 exits with status 1 once it reads the entry')
  await read
  const log = readFileSync(join(dataRoot, 'p1.log'), 'utf8')
  t.match(log, /^corrupt record at key "kv\/a": \/version .*; the node stops rather than trust it/m, 'the key and what is wrong, on a line of its own')
})
