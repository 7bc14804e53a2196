import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort, nodeArgs, probe, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { http, startCluster, submit, waitSettled } from '../helpers/cluster.ts'

t.test('SIGTERM stops every node cleanly; restarted, the data is there and transaction ids do not repeat', async (t) => {
  const cluster = await startCluster(t)
  const first = await submit(cluster, [{ key: 'persist', value: 'me' }], { id: 'life-1' })
  t.match(first.body, { txId: /^1\./, outcome: 'committed' })
  await waitSettled(cluster)
  await cluster.terminateAll()
  for (const name of cluster.nodes.keys()) t.notOk(cluster.isRunning(name), `${name} stopped`)
  await cluster.startAll()
  const second = await submit(cluster, [{ key: 'persist', value: 'again' }])
  t.match(second.body, { txId: /^2\./, outcome: 'committed', versions: { persist: 2 } }, 'a new epoch: ids never repeat across restarts')
  t.match((await http(`${cluster.url}/v1/transactions?id=life-1`)).body, { txId: first.body.txId, state: 'committed' }, 'outcomes survive a restart')
  t.match((await http(`${cluster.url}/v1/transactions/1.999`)).body, { state: 'aborted', presumed: true }, 'an id of the previous epoch with no record was never decided')
  t.match(await http(`${cluster.url}/v1/transactions/2.999`), { status: 404 })
  t.same((await http(`${cluster.urlOf('p1')}/v1/keys/persist`)).status, 404, 'participants serve no client reads')
})

t.test('nodes run from the TypeScript sources through tsx, or from the build in dist/', async (t) => {
  t.match(nodeArgs('participant', 'dist'), ['--enable-source-maps', /dist\/services\/participant\/main\.js$/])
  t.match(nodeArgs('coordinator', 'tsx'), ['--import', 'tsx', /services\/coordinator\/main\.ts$/])
})

t.test('npm start brings up a cluster that answers the printed curl line, and Ctrl-C stops it', async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-start-'))
  t.teardown(() => { rmSync(dataRoot, { recursive: true, force: true }) })
  const basePort = await freePort()
  const chaosPort = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'start-cluster.ts')], {
    env: { ...process.env, BASE_PORT: String(basePort), CHAOS_PORT: String(chaosPort), DATA_ROOT: dataRoot, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let banner = ''
  child.stderr.on('data', (chunk: Buffer) => { banner += chunk.toString() })
  const exited = new Promise<number | null>((ok) => child.once('exit', ok))
  const url = `http://127.0.0.1:${basePort}`
  await waitFor(async () => banner.includes('try:'), 60000, 'npm start to print its banner')
  const second = `http://127.0.0.1:${basePort + 4}`
  t.match(banner, `coordinators c1 ${url}, c2 ${second}`, 'two coordinators by default, both URLs printed')
  t.match(banner, /curl -s -X POST/)
  t.equal(await probe(`${url}/readyz`), 200)
  t.equal(await probe(`${second}/readyz`), 200)
  t.match((await http(`${url}/v1/transactions`, { body: { writes: [{ key: 'greeting', value: 'hello' }], id: 'greeting-1' } })).body, { outcome: 'committed', txId: /^c1:/ })
  t.match((await http(`${second}/v1/transactions`, { body: { writes: [{ key: 'greeting', value: 'hello' }], id: 'greeting-1' } })).body, { outcome: 'committed', txId: /^c1:/ }, 'the retry at c2 answers c1\'s commit')
  t.match((await http(`${second}/v1/keys/greeting`)).body, { value: 'hello' })
  t.match(banner, `chaos API on http://127.0.0.1:${chaosPort}`)
  t.match((await http(`http://127.0.0.1:${chaosPort}/v1/nodes`)).body, { nodes: [{ name: 'c1' }, { name: 'c2' }, { name: 'p1' }, { name: 'p2' }, { name: 'p3' }] })
  child.kill('SIGINT')
  t.equal(await exited, 0, 'exits cleanly on Ctrl-C')
  t.equal(await probe(`${url}/healthz`), 0, 'every node is gone')
})
