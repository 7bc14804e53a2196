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
  for (const name of cluster.nodes.keys()) t.same(await cluster.waitExit(name), { code: 0, signal: null }, `${name} stopped, exit code 0`)
  await cluster.startAll()
  const second = await submit(cluster, [{ key: 'persist', value: 'again' }])
  t.match(second.body, { txId: /^2\./, outcome: 'committed', versions: { persist: 2 } }, 'a new epoch: ids never repeat across restarts')
  t.match((await http(`${cluster.url}/v1/transactions?id=life-1`)).body, { txId: first.body.txId, state: 'committed' }, 'outcomes survive a restart')
  t.match((await http(`${cluster.url}/v1/transactions/1.999`)).body, { state: 'aborted', presumed: true }, 'an id of the previous epoch with no record was never decided')
  t.match(await http(`${cluster.url}/v1/transactions/2.999`), { status: 404 })
  t.same((await http(`${cluster.urlOf('p1')}/v1/keys/persist`)).status, 404, 'participants serve no client reads')
})

t.test('SIGTERM while a transaction is in flight: the coordinator answers it before it exits 0', async (t) => {
  const cluster = await startCluster(t)
  cluster.pause('p1') // p1 will not vote: the transaction waits for its vote timeout
  t.teardown(() => { if (cluster.isRunning('p1')) cluster.resume('p1') })
  const started = Date.now()
  const answer = submit(cluster, [{ key: 'in-flight', value: 'v' }], { timeoutMs: 3000 })
  await new Promise((ok) => setTimeout(ok, 500))
  process.kill(cluster.pid('coordinator')!, 'SIGTERM')
  const reply = await answer
  t.match(reply, { status: 200, body: { outcome: 'aborted', reasons: [{ participant: 'p1', code: 'vote_timeout' }] } }, 'the client gets the outcome (p1 never voted), not a cut connection')
  t.ok(Date.now() - started >= 2500, 'after the vote timeout ran its course')
  t.same(await cluster.waitExit('coordinator'), { code: 0, signal: null }, 'then the coordinator exits 0')
  cluster.resume('p1')
  await cluster.start('coordinator')
  await waitSettled(cluster)
  t.match((await http(`${cluster.url}/v1/transactions/${reply.body.txId}`)).body, { state: 'aborted' }, 'and its decision was kept')
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
    env: { ...process.env, BASE_PORT: String(basePort), CHAOS_PORT: String(chaosPort), DATA_ROOT: dataRoot, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let banner = ''
  let logs = ''
  child.stderr.on('data', (chunk: Buffer) => { banner += chunk.toString() })
  child.stdout.on('data', (chunk: Buffer) => { logs += chunk.toString() })
  const exited = new Promise<number | null>((ok) => child.once('exit', ok))
  const url = `http://127.0.0.1:${basePort}`
  await waitFor(async () => banner.includes('try:'), 60000, 'npm start to print its banner')
  const second = `http://127.0.0.1:${basePort + 4}`
  t.match(banner, `coordinators c1 ${url}, c2 ${second}`, 'two coordinators by default, both URLs printed')
  t.match(banner, /curl -s -X POST/)
  t.equal(await probe(`${url}/readyz`), 200)
  t.equal(await probe(`${second}/readyz`), 200)
  t.match((await http(`${url}/v1/transactions`, { body: { writes: [{ key: 'greeting', value: 'hello' }], id: 'greeting-1' } })).body, { outcome: 'committed', txId: /^c1:/ })
  // As a client does: c1 answered at its durable decision, and its COMMIT may not be applied yet where c2's
  // attempt checks the id, which then answers 503 id_in_doubt with Retry-After (README, "Error codes").
  let retry = await http(`${second}/v1/transactions`, { body: { writes: [{ key: 'greeting', value: 'hello' }], id: 'greeting-1' } })
  for (let i = 0; i < 50 && retry.status === 503; i++) {
    t.match(retry.body, { error: 'id_in_doubt' }, 'until c1\'s commit is applied: 503 id_in_doubt')
    await new Promise((ok) => setTimeout(ok, 100))
    retry = await http(`${second}/v1/transactions`, { body: { writes: [{ key: 'greeting', value: 'hello' }], id: 'greeting-1' } })
  }
  t.match(retry.body, { outcome: 'committed', txId: /^c1:/ }, 'the retry at c2 answers c1\'s commit')
  t.match((await http(`${second}/v1/keys/greeting`)).body, { value: 'hello' })
  t.match(banner, `chaos API on http://127.0.0.1:${chaosPort}`)
  t.match((await http(`http://127.0.0.1:${chaosPort}/v1/nodes`)).body, { nodes: [{ name: 'c1' }, { name: 'c2' }, { name: 'p1' }, { name: 'p2' }, { name: 'p3' }] })
  child.kill('SIGINT')
  t.equal(await exited, 0, 'exits cleanly on Ctrl-C')
  t.equal(await probe(`${url}/healthz`), 0, 'every node is gone')
  t.match(logs, /^\{"level":30,"time":\d+,"node":"p1","pid":\d+,"port":\d+,"keys":0,"protocol":"2pc","cacheMb":64,"cacheHoldsWholeReplica":true,"msg":"participant listening"\}$/m, 'its output a pipe: JSON lines, as pino writes them')
})

const hasScript = (await new Promise<number | null>((ok) => spawn('script', ['--version'], { stdio: 'ignore' }).once('exit', ok).once('error', () => { ok(null) }))) === 0

t.test('npm start on a terminal: readable lines through pino-pretty, one per log line, the node named in each', { skip: hasScript ? false : 'no script(1) to give npm start a terminal' }, async (t) => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'txn-start-tty-'))
  t.teardown(() => { rmSync(dataRoot, { recursive: true, force: true }) })
  const basePort = await freePort()
  const chaosPort = await freePort()
  // script(1) runs it on a pseudo-terminal: its stdout is a TTY, as in a person's shell.
  const command = `${process.execPath} --import tsx ${join(repoRoot, 'scripts', 'start-cluster.ts')}`
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: repoRoot,
    env: { ...process.env, BASE_PORT: String(basePort), CHAOS_PORT: String(chaosPort), DATA_ROOT: dataRoot, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  const exited = new Promise<number | null>((ok) => child.once('exit', ok))
  await waitFor(async () => out.includes('try:'), 60000, 'npm start to print its banner')
  t.match((await http(`http://127.0.0.1:${basePort}/v1/transactions`, { body: { writes: [{ key: 'tty', value: 'v' }] } })).body, { outcome: 'committed' })
  process.kill(-child.pid!, 'SIGINT')
  t.equal(await exited, 0, 'exits cleanly on Ctrl-C')
  // eslint-disable-next-line no-control-regex -- the terminal's colours
  const text = out.replace(/\u001b\[[0-9;]*m/g, '')
  t.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[p1\] participant listening \{"port":\d+,"keys":0,"protocol":"2pc","cacheMb":64,"cacheHoldsWholeReplica":true\}\r?$/m, 'a participant\'s line: time, level, [node] message, its fields')
  t.match(text, /^\[[\d:.]+\] INFO: \[chaos\] /m, 'and the chaos API\'s own lines too')
  t.notMatch(text, /^\{"level"/m, 'no JSON line on the terminal')
})
