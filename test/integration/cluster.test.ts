import t from 'tap'
import WebSocket from 'ws'
import { http, postRaw, replicas, startCluster, submit, waitSettled, type TxnResponse } from '../helpers/cluster.ts'

t.test('a 3-participant cluster of real processes', async (t) => {
  const cluster = await startCluster(t)
  const url = cluster.url

  await t.test('a transaction commits on every replica and its status is queryable', async (t) => {
    const res = await submit(cluster, [{ key: 'a', value: '1' }, { key: 'b', value: '2' }], { id: 'client-1' })
    t.equal(res.status, 200)
    t.match(res.body, { outcome: 'committed', id: 'client-1', versions: { a: 1, b: 1 } })
    for (const r of await waitSettled(cluster)) {
      t.same(r.entries, { a: { value: '1', version: 1 }, b: { value: '2', version: 1 } }, `replica ${r.participant}`)
    }
    const status = await http(`${url}/v1/transactions/${res.body.txId}`)
    t.match(status.body, { state: 'committed', votes: { p1: 'yes', p2: 'yes', p3: 'yes' } })
    t.match((await http(`${url}/v1/transactions?id=client-1`)).body, { txId: res.body.txId })
    t.match(await http(`${url}/v1/transactions/999.1`), { status: 404, body: { error: 'unknown_transaction' } })
    t.match((await submit(cluster, [{ key: 'a', value: '1' }, { key: 'b', value: '2' }], { id: 'client-1' })).body, { txId: res.body.txId, outcome: 'committed' }, 'a retry with the same id returns the recorded outcome')
  })

  await t.test('a failed precondition aborts naming the participant and the key; no replica changes', async (t) => {
    const res = await submit(cluster, [{ key: 'a', value: 'x', ifVersion: 7 }, { key: 'c', value: 'y' }])
    t.match(res.body, { outcome: 'aborted', reasons: [{ participant: /^p[123]$/, code: 'precondition_failed', key: 'a' }] })
    const absent = await submit(cluster, [{ key: 'a', value: 'x', ifAbsent: true }])
    t.match(absent.body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed', key: 'a' }] })
    for (const r of await waitSettled(cluster)) t.notOk(r.entries.c, `nothing of the aborted transaction on ${r.participant}`)
    t.match((await submit(cluster, [{ key: 'a', value: 'x', ifVersion: 1 }])).body, { outcome: 'committed', versions: { a: 2 } })
  })

  await t.test('a client writing one key again as soon as it is told "committed" never meets its own last write', async (t) => {
    // The next PREPARE often reaches a participant while the previous apply is still being written.
    let version = 0
    const outcomes: string[] = []
    for (let i = 1; i <= 60; i++) {
      const res = await submit(cluster, [{ key: 'counter', value: String(i), ifVersion: version }])
      outcomes.push(res.body.outcome)
      if (res.body.outcome === 'committed') version = res.body.versions!.counter!
    }
    t.same(outcomes.filter((o) => o !== 'committed'), [], 'every read-modify-write commits')
    t.equal(version, 60)
    for (const r of await waitSettled(cluster)) t.same(r.entries.counter, { value: '60', version: 60 }, `replica ${r.participant}`)
  })

  await t.test('of two concurrent conflicting transactions exactly one commits', async (t) => {
    const [x, y] = await Promise.all([
      submit(cluster, [{ key: 'race', value: 'x', ifAbsent: true }]),
      submit(cluster, [{ key: 'race', value: 'y', ifAbsent: true }]),
    ])
    const outcomes = [x.body, y.body].map((b) => b.outcome).sort()
    t.same(outcomes, ['aborted', 'committed'])
    const loser = [x.body, y.body].find((b) => b.outcome === 'aborted')
    t.match(loser?.reasons?.[0]?.code, /^(conflict|precondition_failed)$/)
    const winner = [x, y].find((r) => r.body.outcome === 'committed')
    const value = winner === x ? 'x' : 'y'
    for (const r of await waitSettled(cluster)) t.same(r.entries.race, { value, version: 1 })
  })

  await t.test('many concurrent writers of one key: every commit is applied in version order, aborts are conflicts', async (t) => {
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => submit(cluster, [{ key: 'hot', value: `v${i}` }])))
    const committed = results.filter((r) => r.body.outcome === 'committed')
    t.ok(committed.length >= 1)
    for (const r of results) if (r.body.outcome === 'aborted') t.equal(r.body.reasons?.[0]?.code, 'conflict')
    const top = committed.reduce((a, b) => ((a.body.versions?.hot ?? 0) > (b.body.versions?.hot ?? 0) ? a : b))
    const value = (JSON.parse(JSON.stringify(top.body)) as TxnResponse).versions?.hot
    const all = await waitSettled(cluster)
    for (const r of all) t.equal(r.entries.hot?.version, value)
    t.equal(new Set(committed.map((c) => c.body.versions?.hot)).size, committed.length, 'each commit got its own version')
  })

  await t.test('read-your-writes: a read after a commit returns that value or a newer one', async (t) => {
    for (let i = 0; i < 15; i++) {
      const w = await submit(cluster, [{ key: 'ryw', value: `n${i}` }])
      t.equal(w.body.outcome, 'committed')
      const r = await http(`${url}/v1/keys/ryw`)
      t.same(r.body, { key: 'ryw', value: `n${i}`, version: i + 1 })
    }
    t.match(await http(`${url}/v1/keys/never-written`), { status: 404, body: { error: 'key_not_found' } })
  })

  await t.test('200 concurrent non-conflicting transactions all commit and the replicas are identical', async (t) => {
    const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => submit(cluster, [{ key: `bulk/${i}`, value: String(i) }, { key: `bulk2/${i}`, value: 'x' }])))
    t.equal(results.filter((r) => r.body.outcome === 'committed').length, 200)
    const all = await waitSettled(cluster)
    for (const r of all.slice(1)) t.same(r.entries, all[0]!.entries, `${r.participant} equals ${all[0]!.participant}`)
    t.equal(Object.keys(all[0]!.entries).filter((k) => k.startsWith('bulk')).length, 400)
  })

  await t.test('bad input gets a 4xx JSON error and the service keeps working', async (t) => {
    const tx = `${url}/v1/transactions`
    t.match(await http(tx, { raw: '{"writes": [' }), { status: 400, body: { error: 'invalid_json' } })
    t.match(await http(tx, { body: { writes: [{ key: 1, value: 'x' }] } }), { status: 400, body: { error: 'bad_request', message: /key/ } })
    t.match(await http(tx, { body: { writes: [] } }), { status: 400, body: { error: 'bad_request' } })
    t.match(await http(tx, { body: { writes: [{ key: 'k', value: 'v', extra: true }] } }), { status: 400, body: { error: 'bad_request' } })
    t.match(await http(tx, { body: { writes: [{ key: 'k', value: 'v' }], timeoutMs: 1 } }), { status: 400, body: { error: 'bad_request', message: /timeoutMs/ } })
    t.match(await http(tx, { body: { writes: [{ key: 'k', value: 'v' }, { key: 'k', value: 'w' }] } }), { status: 400, body: { error: 'duplicate_key' } })
    t.match(await http(tx, { body: { writes: [{ key: 'k', value: 'v', ifAbsent: true, ifVersion: 0 }] } }), { status: 400, body: { error: 'invalid_precondition' } })
    t.match(await http(tx, { raw: 'writes=1', headers: { 'content-type': 'text/plain' } }), { status: 415, body: { error: 'unsupported_media_type' } })
    t.match(await postRaw(tx, JSON.stringify({ writes: [{ key: 'big', value: 'x'.repeat(1100 * 1024) }] })), { status: 413, body: { error: 'payload_too_large' } })
    t.match(await http(`${url}/nope`), { status: 404, body: { error: 'not_found' } })
    t.match(await http(`${url}/v1/transactions`), { status: 400, body: { error: 'bad_request' } })
    t.match((await submit(cluster, [{ key: 'after-bad-input', value: 'ok' }])).body, { outcome: 'committed' })
  })

  await t.test('a peer without the cluster token is refused with 401, a second one with it with 409', async (t) => {
    const peerUrl = `ws://127.0.0.1:${cluster.spec('p1').port}/v1/peer`
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(peerUrl, { headers: { authorization: 'Bearer wrong-token' } })
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
      ws.on('open', () => { resolve(101) })
      ws.on('error', () => undefined)
    })
    t.equal(status, 401)
    const noToken = await new Promise<number>((resolve) => {
      const ws = new WebSocket(peerUrl)
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
      ws.on('open', () => { resolve(101) })
      ws.on('error', () => undefined)
    })
    t.equal(noToken, 401)

    // With the token, a second connection is refused while the coordinator's link is healthy (peer-link.test.ts
    // sends malformed frames over an accepted link).
    const busy = await new Promise<number>((resolve) => {
      const ws = new WebSocket(peerUrl, { headers: { authorization: `Bearer ${cluster.token}` } })
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0) })
      ws.on('open', () => { resolve(101) })
      ws.on('error', () => undefined)
    })
    t.equal(busy, 409)
    t.equal((await http(`${cluster.urlOf('p1')}/healthz`)).status, 200, 'the participant is still alive')
    await cluster.waitReady()
    t.match((await submit(cluster, [{ key: 'after-refused-peers', value: 'ok' }])).body, { outcome: 'committed' })
  })

  await t.test('a participant down at request time: aborted naming it, and fine again once it is back', async (t) => {
    await cluster.kill('p2')
    const res = await submit(cluster, [{ key: 'down', value: '1' }])
    t.equal(res.status, 200)
    t.match(res.body, { outcome: 'aborted', reasons: [{ participant: 'p2', code: /^participant_(unavailable|disconnected)$/ }] })
    t.equal((await http(`${url}/readyz`)).status, 503)
    await cluster.start('p2')
    await cluster.waitReady()
    t.match((await submit(cluster, [{ key: 'down', value: '2' }])).body, { outcome: 'committed' })
    for (const r of await waitSettled(cluster)) t.same(r.entries.down, { value: '2', version: 1 })
  })

  await t.test('a frozen participant (SIGSTOP) makes the transaction abort by vote timeout; the cluster goes on after SIGCONT', async (t) => {
    cluster.pause('p3')
    const started = Date.now()
    const res = await submit(cluster, [{ key: 'frozen', value: '1' }], { timeoutMs: 300 })
    const elapsed = Date.now() - started
    t.match(res.body, { outcome: 'aborted', reasons: [{ participant: 'p3', code: /^(vote_timeout|participant_disconnected)$/ }] })
    t.ok(elapsed < 2500, `answered within the timeout plus slack (${elapsed} ms)`)
    cluster.resume('p3')
    await cluster.waitReady()
    const all = await waitSettled(cluster)
    for (const r of all) t.notOk(r.entries.frozen, `the timed-out transaction is not on ${r.participant}`)
    t.match((await submit(cluster, [{ key: 'frozen', value: '2' }])).body, { outcome: 'committed' })
    const after = await waitSettled(cluster)
    for (const r of after.slice(1)) t.same(r.entries, after[0]!.entries)
  })

  t.same((await replicas(cluster)).map((r) => r.locks), [0, 0, 0], 'no locks left at the end')
})
