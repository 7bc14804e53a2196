import t from 'tap'
import type { LocalCluster } from '../helpers/cluster.ts'
import { http, startCluster, submit, waitSettled } from '../helpers/cluster.ts'

/**
 * A replica larger than its cache (CACHE_MB=1): real processes, real LevelDB,
 * values that do not all fit. Every read, listing, precondition and version
 * must be what the whole replica in memory would give, before and after a
 * restart, which keeps none of the replica at start.
 */
const KEYS = 120
const VALUE = 'x'.repeat(12 * 1024) // 120 keys of 12 KB: about 3 MB in the cache's estimate, 1 MB of budget
const name = (i: number): string => `big/${String(i).padStart(3, '0')}`
const valueOf = (i: number, round: number): string => `${round}:${i}:${VALUE}`

interface Status { keys: number; cache?: { maxBytes: number; bytes: number; complete: boolean; loads: number; scans: number } }

async function status(cluster: LocalCluster, p: string): Promise<Status> {
  return (await http<Status>(`${cluster.urlOf(p)}/v1/status`, { dispatcher: cluster.dispatcher })).body
}

async function read(cluster: LocalCluster, key: string): Promise<{ status: number; value?: string; version?: number }> {
  const res = await http<{ value?: string; version?: number }>(`${cluster.url}/v1/keys/${encodeURIComponent(key)}`, { dispatcher: cluster.dispatcher })
  return { status: res.status, ...res.body }
}

async function listAll(cluster: LocalCluster, prefix: string, limit: number): Promise<{ key: string; value: string; version: number }[]> {
  const out: { key: string; value: string; version: number }[] = []
  let after = ''
  for (;;) {
    const page = await http<{ keys: { key: string; value: string; version: number }[]; next?: string }>(`${cluster.url}/v1/keys?prefix=${encodeURIComponent(prefix)}&limit=${limit}&after=${encodeURIComponent(after)}`, { dispatcher: cluster.dispatcher })
    out.push(...page.body.keys)
    if (page.body.next === undefined) return out
    after = page.body.next
  }
}

async function digests(cluster: LocalCluster): Promise<string[]> {
  return Promise.all(cluster.participantNames.map(async (p) => (await http<{ digest: string }>(`${cluster.urlOf(p)}/v1/replica/digest`, { dispatcher: cluster.dispatcher })).body.digest))
}

t.test('a replica larger than its cache: reads, listings, preconditions and versions as if it were all in memory, across a restart', async (t) => {
  const cluster = await startCluster(t, { participants: 3, env: { CACHE_MB: '1', CHECK_INVARIANTS: '0' } })
  t.match(await status(cluster, 'p1'), { cache: { complete: true } }, 'an empty replica fits: the cache starts with all of it')
  for (let batch = 0; batch < KEYS / 10; batch++) {
    const writes = Array.from({ length: 10 }, (_, j) => ({ key: name(batch * 10 + j), value: valueOf(batch * 10 + j, 1), ifAbsent: true }))
    t.match((await submit(cluster, writes)).body, { outcome: 'committed' }, `batch ${batch}`)
  }
  for (const p of cluster.participantNames) {
    const s = await status(cluster, p)
    t.ok(s.cache !== undefined && s.cache.bytes <= s.cache.maxBytes && s.cache.maxBytes === 1024 * 1024, `${p}: the cache keeps to its budget (${s.cache?.bytes} bytes)`)
    t.ok(s.keys < KEYS / 2, `${p}: it holds a part of the replica (${s.keys} keys)`)
    t.equal(s.cache?.complete, false, `${p}: and no longer all of it`)
  }

  const check = async (round: (i: number) => number, label: string): Promise<void> => {
    let wrong = 0
    for (let i = 0; i < KEYS; i++) {
      const got = await read(cluster, name(i))
      if (got.status !== 200 || got.value !== valueOf(i, round(i)) || got.version !== round(i)) wrong++
    }
    t.equal(wrong, 0, `${label}: every key reads its committed value and version`)
    const listed = await listAll(cluster, 'big/', 25)
    t.same(listed.map((e) => e.key), Array.from({ length: KEYS }, (_, i) => name(i)), `${label}: the listing holds every key, in order`)
    t.ok(listed.every((e, i) => e.version === round(i) && e.value === valueOf(i, round(i))), `${label}: with its committed value and version`)
  }
  await check(() => 1, 'after the load')

  // Overwrites with ifVersion: each replica must load the version it checks, and agree on the next.
  for (let i = 0; i < KEYS; i += 4) t.match((await submit(cluster, [{ key: name(i), value: valueOf(i, 2), ifVersion: 1 }])).body, { outcome: 'committed', versions: { [name(i)]: 2 } })
  t.match((await submit(cluster, [{ key: name(1), value: 'stale', ifVersion: 2 }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed' }] }, 'a stale precondition on a key read from disk')
  const twice = (i: number): number => (i % 4 === 0 ? 2 : 1)
  await check(twice, 'after the overwrites')

  // A delete and a re-create: the key's next life counts on from the floor.
  t.match((await submit(cluster, [{ key: 'solo', value: 'one' }])).body, { outcome: 'committed', versions: { solo: 1 } })
  t.match((await submit(cluster, [{ key: 'solo', delete: true }])).body, { outcome: 'committed', versions: { solo: 2 } })
  t.equal((await read(cluster, 'solo')).status, 404)

  // A restart keeps none of a replica that does not fit: the keys come back on demand, the floor with them.
  await cluster.kill('p1')
  await cluster.start('p1')
  await cluster.waitReady()
  const restarted = await status(cluster, 'p1')
  t.ok(restarted.keys <= 1, `p1 started without keeping the replica (${restarted.keys} keys in memory: the version floors)`)
  t.equal(restarted.cache?.complete, false)
  t.match((await submit(cluster, [{ key: 'solo', value: 'two', ifAbsent: true }])).body, { outcome: 'committed', versions: { solo: 3 } }, 'a re-create after the restart: every replica gives it the same version')
  await check(twice, 'after p1 restarted')

  // Read-modify-write from several clients at once on one key, while reads of big values evict it between uses.
  t.match((await submit(cluster, [{ key: 'counter', value: '0' }])).body, { outcome: 'committed' })
  const increments = async (worker: number): Promise<void> => {
    for (let done = 0, tries = 0; done < 6; tries++) {
      if (tries > 500) throw new Error(`worker ${worker} made no progress`)
      await read(cluster, name((worker * 37 + tries) % KEYS))
      const cur = await read(cluster, 'counter')
      if (cur.status !== 200) continue
      const res = await submit(cluster, [{ key: 'counter', value: String(Number(cur.value) + 1), ifVersion: cur.version }])
      if (res.body.outcome === 'committed') done++
    }
  }
  await Promise.all([0, 1, 2].map(increments))
  t.match(await read(cluster, 'counter'), { status: 200, value: '18', version: 19 }, 'no increment lost, none counted twice')
  await waitSettled(cluster)
  const all = await digests(cluster)
  t.ok(all.every((d) => d === all[0]), 'the three replicas are identical')
})
