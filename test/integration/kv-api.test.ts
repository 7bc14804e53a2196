import t from 'tap'
import { floorKey } from '../../shared/core/participant/version-floor.ts'
import { compareKeys } from '../../shared/core/participant/listing.ts'
import { replicaDigest } from '../../shared/io/storage/replica-digest.ts'
import { http, startCluster, submit, waitSettled, type LocalCluster } from '../helpers/cluster.ts'
import { expectError } from '../helpers/node-log.ts'

/**
 * Deletes over the real API, under both protocols: real processes, LevelDB in
 * temp directories, 127.0.0.1. A delete is a write of its transaction (all or
 * nothing with the others), takes a version, leaves no per-key record, and
 * the key's next life starts above it (version-floor.ts), also after a
 * participant restarts from its disk.
 */

const read = async (cluster: LocalCluster, key: string) => http<{ value?: string; version?: number; error?: string }>(`${cluster.url}/v1/keys/${encodeURIComponent(key)}`, { dispatcher: cluster.dispatcher })

for (const protocol of ['2pc', 'paxos-commit'] as const) {
  t.test(`deletes (${protocol}): atomic with the transaction's other writes, 404 after, versions never reused, durable across a restart`, async (t) => {
    const cluster = await startCluster(t, { participants: 3, env: { COMMIT_PROTOCOL: protocol } })
    t.match((await submit(cluster, [{ key: 'a', value: 'one' }, { key: 'b', value: 'bee' }])).body, { outcome: 'committed', versions: { a: 1, b: 1 } })
    t.match((await submit(cluster, [{ key: 'a', value: 'two' }])).body, { versions: { a: 2 } })

    // A delete beside a put in one transaction; the delete takes the key's next version.
    t.match((await submit(cluster, [{ key: 'a', delete: true, ifVersion: 2 }, { key: 'c', value: 'sea' }])).body, { outcome: 'committed', versions: { a: 3, c: 1 } })
    const gone = await read(cluster, 'a')
    t.equal(gone.status, 404)
    expectError(t, gone, 'key_not_found')
    t.match((await read(cluster, 'c')).body, { value: 'sea', version: 1 })

    // A delete whose transaction aborts deletes nothing.
    t.match((await submit(cluster, [{ key: 'b', delete: true }, { key: 'c', value: 'x', ifVersion: 7 }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key: 'c' }] })
    t.match((await read(cluster, 'b')).body, { value: 'bee', version: 1 })

    // The old life's versions never match again: ifVersion 2 (its last put) fails, ifAbsent holds, the new life starts at 4.
    t.match((await submit(cluster, [{ key: 'a', value: 'x', ifVersion: 2 }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key: 'a' }] })
    t.match((await submit(cluster, [{ key: 'a', value: 'three', ifAbsent: true }])).body, { outcome: 'committed', versions: { a: 4 } })

    // Delete again, and restart a participant from its disk: the delete and the floor it raised are durable.
    t.match((await submit(cluster, [{ key: 'a', delete: true }])).body, { outcome: 'committed', versions: { a: 5 } })
    const [p1] = cluster.participantNames
    await cluster.kill(p1!)
    await cluster.start(p1!)
    // p1 answers once it is ready; the coordinators' links to it come back a moment later (the commit below needs them).
    await cluster.waitReady()
    const settled = await waitSettled(cluster)
    for (const r of settled) {
      t.equal(r.entries.a, undefined, `${r.participant}: no record of the deleted key`)
      t.same(r.reserved[floorKey('a')], { value: '', version: 5 }, `${r.participant}: a's bucket floor is the delete's version`)
    }
    t.same(settled[1]!.entries, settled[0]!.entries)
    t.same(settled[2]!.reserved, settled[0]!.reserved)
    // The digest endpoint: equal on every replica, and what anyone computes from /v1/replica (README's definition).
    const digests = await Promise.all(cluster.participantNames.map(async (p) => (await http<{ participant: string; entries: number; digest: string; prepared: string[] }>(`${cluster.urlOf(p)}/v1/replica/digest`, { dispatcher: cluster.dispatcher })).body))
    const all = Object.entries({ ...settled[0]!.entries, ...settled[0]!.reserved }).sort(([a], [b]) => compareKeys(a, b))
    for (const d of digests) t.same(d, { participant: d.participant, ...replicaDigest(all), prepared: [] }, `${d.participant}: the digest of its replica`)
    t.match((await submit(cluster, [{ key: 'a', value: 'four' }])).body, { outcome: 'committed', versions: { a: 6 } })
  })
}

t.test('a write must have either a value or delete: true, never both, never neither', async (t) => {
  const cluster = await startCluster(t, { participants: 1 })
  for (const write of [{ key: 'a', value: 'v', delete: true }, { key: 'a' }, { key: 'a', delete: false }]) {
    const res = await submit(cluster, [write])
    t.equal(res.status, 400, JSON.stringify(write))
    expectError(t, res, 'bad_request')
  }
  t.match((await submit(cluster, [{ key: 'never-there', delete: true }])).body, { outcome: 'committed' }, 'deleting an absent key commits (and changes nothing but the floor)')
  expectError(t, await read(cluster, 'never-there'), 'key_not_found')
})

t.test('listing: committed keys by prefix, in order, a page at a time with a cursor; deleted keys gone; bad parameters refused', async (t) => {
  const cluster = await startCluster(t, { participants: 2 })
  const list = async (query: string) => http<{ keys?: { key: string; value: string; version: number }[]; next?: string; error?: string }>(`${cluster.url}/v1/keys?${query}`, { dispatcher: cluster.dispatcher })
  const names = ['user/ann', 'user/bob', 'user/cy', 'user/dee', 'user/\u{1F600}', 'user/\uE000', 'other/x']
  t.match((await submit(cluster, names.map((key) => ({ key, value: `v-${key}` })), { id: 'fill' })).body, { outcome: 'committed' })
  t.match((await submit(cluster, [{ key: 'user/cy', delete: true }])).body, { outcome: 'committed' })

  /** Every page from the start: a page stops early (with a cursor) before a key whose apply is still being written. */
  const listAll = async (query: string): Promise<{ key: string; value: string; version: number }[]> => {
    const keys: { key: string; value: string; version: number }[] = []
    let after = ''
    for (let i = 0; i < 50; i++) {
      const page = await list(`${query}&after=${encodeURIComponent(after)}`)
      t.equal(page.status, 200, query)
      keys.push(...(page.body.keys ?? []))
      if (page.body.next === undefined) return keys
      after = page.body.next
    }
    throw new Error(`listing ${query} did not end`)
  }
  const all = await listAll('prefix=user%2F')
  // Key order is LevelDB's (UTF-8 bytes): U+E000 before the astral U+1F600, which JavaScript's sort would swap.
  t.same(all.map((e) => e.key), ['user/ann', 'user/bob', 'user/dee', 'user/\uE000', 'user/\u{1F600}'])
  t.same(all[0], { key: 'user/ann', value: 'v-user/ann', version: 1 })
  t.notOk(JSON.stringify(all).includes('\\u0000'), 'no reserved key (the id\'s claim, the floor of the delete) is listed')
  const first = await list('prefix=user%2F&limit=2')
  t.same(first.body.keys?.map((e) => e.key), ['user/ann', 'user/bob'])
  t.equal(first.body.next, 'user/bob', 'a full page has the cursor of the next')
  t.same((await listAll('prefix=user%2F&limit=2')).map((e) => e.key), all.map((e) => e.key), 'pages of 2 add up to the same')
  t.same((await listAll('prefix=user%2F&limit=2')).length, 5)
  const last = await list(`prefix=user%2F&after=${encodeURIComponent('user/\uE000')}`)
  t.same(last.body, { keys: [{ key: 'user/\u{1F600}', value: 'v-user/\u{1F600}', version: 1 }] }, 'the last page has no cursor')
  t.same((await listAll('')).length, 6, 'no prefix: every key')

  for (const query of ['limit=0', 'limit=1001', 'limit=abc', `prefix=${encodeURIComponent('\u0000client-id/')}`, 'after=%00x', 'colour=red']) {
    const res = await list(query)
    t.equal(res.status, 400, query)
    expectError(t, res, 'bad_request', undefined, query)
  }
  t.equal((await list('limit=1000')).status, 200)
})
