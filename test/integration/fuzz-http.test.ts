import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runHttpFuzz } from '../../scripts/lib/fuzz-http.ts'
import { http, startCluster, submit, waitSettled } from '../helpers/cluster.ts'

/**
 * 3,000 generated requests (10,000 in .ci/run's `npm run fuzz`) (fast-check, seeded) against a real coordinator
 * and 3 participants: random and mutated bodies, wrong types, deep nesting,
 * huge bodies, __proto__ and duplicate keys, bad content types, truncated
 * JSON and broken framing, odd paths and query strings. The long run is
 * `npm run fuzz`; FUZZ_SEED and FUZZ_REQUESTS replay or widen this one.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20261201)
const requests = Number(process.env.FUZZ_REQUESTS ?? 3000)

t.test(`${requests} fuzzed HTTP requests (seed ${seed}): no 5xx, every error a catalogue body, no refused value on any replica, and the cluster still commits`, async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' } })
  const summary = await runHttpFuzz(cluster.url, seed, requests)
  t.comment(`answers by status: ${JSON.stringify(summary.byStatus)}; ${summary.commits} commits on ${summary.committed.size} keys`)
  t.equal(summary.requests, requests, 'every request got through to the server')
  t.same(summary.faults.slice(0, 20), [], 'no answer >= 500 and every 4xx is { error, message }')
  for (const status of ['200', '400', '404', '413', '415']) t.ok((summary.byStatus[status] ?? 0) > 0, `the generator reaches ${status} answers`)
  t.ok((summary.byStatus['200'] ?? 0) > requests / 20, 'a real share of the requests commit or read')

  const settled = await waitSettled(cluster, 60_000)
  const first = JSON.stringify(settled[0]!.entries)
  for (const r of settled) {
    t.equal(JSON.stringify(r.entries), first, `replica ${r.participant} is identical to ${settled[0]!.participant}`)
    const strays = Object.entries(r.entries).filter(([key, e]) => !(summary.committed.get(key)?.has(e.value) ?? false))
    t.same(strays.slice(0, 5), [], `replica ${r.participant}: every value comes from a request answered committed`)
  }
  t.ok(summary.commits > requests / 50, 'a real share of the requests commit')
  t.ok(Object.keys(settled[0]!.entries).length >= 5, 'the replicas hold committed values')

  const after = await submit(cluster, [{ key: 'after-fuzz', value: 'ok' }])
  t.equal(after.body.outcome, 'committed', 'the cluster still commits')
  t.same((await http(`${cluster.url}/v1/keys/after-fuzz`)).body, { key: 'after-fuzz', value: 'ok', version: 1 })
  for (const name of cluster.nodes.keys()) t.ok(cluster.isRunning(name), `${name} is still running`)
  const coordinatorLog = readFileSync(join(cluster.options.dataRoot, 'coordinator.log'), 'utf8')
  t.notMatch(coordinatorLog, /"msg":"request failed"/, 'no request failed inside the coordinator')
})
