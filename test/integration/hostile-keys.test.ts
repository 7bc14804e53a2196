import t from 'tap'
import { http, replicas, startCluster, submit, waitSettled } from '../helpers/cluster.ts'

/**
 * Keys that name properties of Object.prototype. Kept in a plain object, a
 * write to `__proto__` sets the prototype instead of an entry, and the others
 * work or not by luck of how each map is read. Every map keyed by user input
 * must treat them as keys like any other.
 */
const HOSTILE = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'] as const

/** Own entries of a parsed JSON object: `__proto__` is an own property there, as it was on the wire. */
const entriesOf = (o: object | undefined): [string, unknown][] => Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))

t.test('keys named like Object.prototype members are keys like any other: commit, read, precondition, replicas, crash, recovery', async (t) => {
  const cluster = await startCluster(t)

  await t.test('a commit of every hostile key reports a version for each', async (t) => {
    const res = await submit(cluster, HOSTILE.map((key) => ({ key, value: `v1-${key}` })))
    t.equal(res.body.outcome, 'committed')
    t.same(entriesOf(res.body.versions), HOSTILE.map((k) => [k, 1]).sort(([a], [b]) => (a! < b! ? -1 : 1)), 'one version per key, __proto__ included')
  })

  await t.test('each key reads back its committed value, at once', async (t) => {
    for (const key of HOSTILE) {
      const read = await http(`${cluster.url}/v1/keys/${encodeURIComponent(key)}`)
      t.equal(read.status, 200, `read of ${key}`)
      t.same(entriesOf(read.body), [['key', key], ['value', `v1-${key}`], ['version', 1]], `value of ${key}`)
    }
  })

  await t.test('preconditions see the real versions', async (t) => {
    for (const key of HOSTILE) {
      t.match((await submit(cluster, [{ key, value: 'x', ifAbsent: true }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key }] }, `${key} exists`)
      t.match((await submit(cluster, [{ key, value: 'x', ifVersion: 0 }])).body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key }] }, `${key} is not at 0`)
    }
    const cas = await submit(cluster, HOSTILE.map((key) => ({ key, value: `v2-${key}`, ifVersion: 1 })))
    t.equal(cas.body.outcome, 'committed', 'compare-and-set at version 1 commits')
    t.same(entriesOf(cas.body.versions).map(([, v]) => v), HOSTILE.map(() => 2))
  })

  await t.test('every replica lists every hostile key with its value and version', async (t) => {
    for (const r of await waitSettled(cluster)) {
      t.same(entriesOf(r.entries), HOSTILE.map((k) => [k, { value: `v2-${k}`, version: 2 }]).sort(([a], [b]) => (a! < b! ? -1 : 1)), `replica ${r.participant}`)
    }
    const listed = await http<{ entries: object }>(`${cluster.urlOf('p1')}/v1/replica?prefix=__`)
    t.same(entriesOf(listed.body.entries), [['__proto__', { value: 'v2-__proto__', version: 2 }]], 'a prefix listing finds __proto__')
  })

  await t.test('after every node is killed and restarted, the keys, versions and status records are intact', async (t) => {
    const tx = await submit(cluster, [{ key: '__proto__', value: 'v3', ifVersion: 2 }, { key: 'toString', value: 'v3' }], { id: 'hostile-1' })
    t.equal(tx.body.outcome, 'committed')
    await waitSettled(cluster)
    for (const name of cluster.nodes.keys()) await cluster.kill(name)
    await cluster.startAll()
    for (const r of await replicas(cluster)) {
      t.same(entriesOf(r.entries).find(([k]) => k === '__proto__'), ['__proto__', { value: 'v3', version: 3 }], `replica ${r.participant} after restart`)
    }
    const read = await http(`${cluster.url}/v1/keys/__proto__`)
    t.same(entriesOf(read.body), [['key', '__proto__'], ['value', 'v3'], ['version', 3]])
    const status = await http<{ versions?: object; state: string }>(`${cluster.url}/v1/transactions?id=hostile-1`)
    t.equal(status.body.state, 'committed')
    t.same(entriesOf(status.body.versions), [['__proto__', 3], ['toString', 3]], 'the decision record kept both versions')
    const retry = await submit(cluster, [{ key: '__proto__', value: 'v3', ifVersion: 2 }, { key: 'toString', value: 'v3' }], { id: 'hostile-1' })
    t.same(entriesOf(retry.body.versions), [['__proto__', 3], ['toString', 3]], 'a retry after restart answers the recorded versions')
    t.match((await submit(cluster, [{ key: 'constructor', value: 'after', ifVersion: 2 }])).body, { outcome: 'committed' })
  })
})
