import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { startCluster, submit } from '../helpers/cluster.ts'

// Debian's prometheus package (installed by .ci/run) gives promtool and the server itself; the compose
// profile's image cannot be pulled here, so its config is checked with promtool, and a real Prometheus
// scrapes a local cluster.
const hasProm = spawnSync('promtool', ['--version']).status === 0
const skip = hasProm ? false : 'promtool is not installed (Debian: apt-get install prometheus; .ci/run does)'
const config = join(repoRoot, 'services', 'monitoring', 'prometheus.yml')

t.test('the compose monitoring profile: promtool accepts its config, which scrapes every node of docker-compose.yml', { skip }, async (t) => {
  const check = spawnSync('promtool', ['check', 'config', config], { encoding: 'utf8' })
  t.equal(check.status, 0, `promtool check config: ${check.stdout}${check.stderr}`)
  const text = readFileSync(config, 'utf8')
  const compose = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')
  for (const node of ['coordinator-1:8080', 'coordinator-2:8080', 'participant-1:7001', 'participant-2:7001', 'participant-3:7001']) {
    t.ok(text.includes(`"${node}"`), `${node} is scraped`)
    t.ok(compose.includes(`  ${node.split(':')[0]!}:\n`), `${node.split(':')[0]!} is a service in docker-compose.yml`)
  }
  t.match(compose, /prometheus:\n\s+image: prom\/prometheus:[^\n]+\n\s+profiles: \["monitoring"\]/, 'the prometheus service is in the monitoring profile only')
})

t.test('a real Prometheus scrapes every node of a local cluster: all up, and the transaction counters arrive', { skip }, async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' } })
  for (let i = 0; i < 3; i++) t.equal((await submit(cluster, [{ key: `prom/${i}`, value: 'v' }])).body.outcome, 'committed')
  const dir = mkdtempSync(join(tmpdir(), 'txn-prom-'))
  const port = await freePort()
  const targets = [...cluster.nodes.keys()].map((n) => `"127.0.0.1:${cluster.spec(n).port}"`).join(', ')
  writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: txn\n    static_configs:\n      - targets: [${targets}]\n`)
  const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' })
  t.teardown(async () => {
    const exited = new Promise((ok) => prom.once('exit', ok))
    prom.kill('SIGKILL')
    await exited
    rmSync(dir, { recursive: true, force: true })
  })
  const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(2000) })
    return ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result
  }
  const nodes = cluster.nodes.size
  await waitFor(async () => (await query('up == 1').catch(() => [])).length === nodes, 60000, 'Prometheus to scrape every node')
  t.pass(`up == 1 for all ${nodes} nodes`)
  const committed = await query('sum(txn_transactions_total{outcome="committed"})')
  t.equal(committed[0]?.value[1], '3', 'the three commits, as Prometheus read them')
  const roles = (await query('count by (role) (txn_store_batches_total)')).map((r) => [r.metric.role, r.value[1]]).sort()
  t.same(roles, [['coordinator', '1'], ['participant', '3']], 'every node labelled with its role')
})
