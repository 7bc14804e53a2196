import t from 'tap'
import { http, startCluster, submit, type LocalCluster } from '../helpers/cluster.ts'
import { has, parsePrometheusText, valueOf, type Sample } from '../../scripts/lib/prometheus-text.ts'
import { waitFor } from '../../scripts/lib/local-cluster.ts'

async function scrape(cluster: LocalCluster, node: string): Promise<{ samples: Sample[]; text: string; contentType: string | null }> {
  const res = await fetch(`${cluster.urlOf(node)}/metrics`)
  const text = await res.text()
  return { samples: parsePrometheusText(text), text, contentType: res.headers.get('content-type') }
}

t.test('GET /metrics on every node, in the Prometheus text format: after known traffic the counters add up, and no label carries a txId or a key', async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' } })
  const txIds: string[] = []
  for (let i = 0; i < 5; i++) {
    const r = await submit(cluster, [{ key: `metric/key-${i}`, value: 'v' }])
    t.equal(r.body.outcome, 'committed')
    txIds.push(r.body.txId)
  }
  for (let i = 0; i < 2; i++) {
    const r = await submit(cluster, [{ key: 'metric/key-0', value: 'w', ifVersion: 7 }])
    t.match(r.body, { outcome: 'aborted', reasons: [{ code: 'precondition_failed' }] })
    txIds.push(r.body.txId)
  }
  t.equal((await http(`${cluster.url}/v1/transactions`, { body: { writes: [] } })).status, 400, 'a bad request')
  t.equal((await http(`${cluster.url}/v1/keys/metric%2Fnone`)).status, 404, 'a read of a key nobody wrote')

  const c = await scrape(cluster, 'coordinator')
  t.match(c.contentType, /^text\/plain; version=0\.0\.4/, 'the Prometheus text format')
  const s = c.samples
  t.equal(valueOf(s, 'txn_transactions_total', { outcome: 'committed', reason: 'none' }), 5, 'committed: 5')
  t.equal(valueOf(s, 'txn_transactions_total', { outcome: 'aborted', reason: 'precondition_failed' }), 2, 'aborted by a failed precondition: 2')
  t.equal(valueOf(s, 'txn_transactions_total'), 7, 'committed + aborted = the 7 transactions answered with an outcome')
  t.equal(valueOf(s, 'txn_commit_latency_seconds_count'), 5, 'one latency per commit')
  t.ok(valueOf(s, 'txn_commit_latency_seconds_sum') > 0)
  t.equal(valueOf(s, 'txn_http_error_responses_total', { status: '400', code: 'bad_request' }), 1, 'the 400, by its catalogue code')
  t.equal(valueOf(s, 'txn_http_error_responses_total', { status: '404', code: 'key_not_found' }), 1, 'the 404, by its catalogue code')
  t.equal(valueOf(s, 'txn_transactions_in_flight'), 0)
  t.equal(valueOf(s, 'txn_participants_connected'), 3)
  const batches = valueOf(s, 'txn_store_batches_total')
  t.ok(batches > 0 && valueOf(s, 'txn_store_fsyncs_total') <= batches, `fsyncs ≤ batches (${valueOf(s, 'txn_store_fsyncs_total')} ≤ ${batches})`)
  t.equal(valueOf(s, 'txn_store_batch_requests_count'), batches, 'every batch is in the batch-size histogram')
  for (const p of cluster.participantNames) {
    t.ok(valueOf(s, 'txn_link_frames_sent_total', { peer: p }) >= 7, `frames sent to ${p}`)
    t.ok(valueOf(s, 'txn_link_messages_sent_total', { peer: p }) >= valueOf(s, 'txn_link_frames_sent_total', { peer: p }), `messages sent to ${p}, at least one a frame`)
    t.ok(valueOf(s, 'txn_link_bytes_sent_total', { peer: p }) > valueOf(s, 'txn_link_frames_sent_total', { peer: p }), `bytes sent to ${p}`)
    t.ok(valueOf(s, 'txn_link_frames_received_total', { peer: p }) >= 7, `frames received from ${p}`)
  }
  t.ok(has(s, 'process_cpu_user_seconds_total', { node: 'coordinator', role: 'coordinator' }), 'the default process metrics, labelled with the node')

  for (const p of cluster.participantNames) {
    const ps = (await scrape(cluster, p)).samples
    t.equal(valueOf(ps, 'txn_prepares_total', { vote: 'yes', reason: 'none' }), 5, `${p}: five YES votes`)
    t.equal(valueOf(ps, 'txn_prepares_total', { vote: 'no', reason: 'precondition_failed' }), 2, `${p}: two NO votes, precondition_failed`)
    t.same([valueOf(ps, 'txn_in_doubt_transactions'), valueOf(ps, 'txn_in_doubt_oldest_age_seconds'), valueOf(ps, 'txn_locks_held'), valueOf(ps, 'txn_reads_waiting')], [0, 0, 0, 0], `${p}: nothing in doubt, locked or waiting`)
    const pb = valueOf(ps, 'txn_store_batches_total')
    t.ok(pb > 0 && valueOf(ps, 'txn_store_fsyncs_total') <= pb, `${p}: fsyncs ≤ batches`)
    t.ok(valueOf(ps, 'txn_link_frames_received_total', { peer: 'coordinator' }) >= 7, `${p}: frames from the coordinator`)
    t.equal(valueOf(ps, 'txn_refused_frames_total', { link: 'coordinator' }), 0, `${p}: no frame refused`)
    t.ok(has(ps, 'txn_refused_frames_total', { link: 'coordinator' }), `${p}: the refused-frames series exists at 0`)
  }

  // Bounded labels: every label value in every node's metrics is free of the traffic's txIds and keys.
  for (const node of cluster.nodes.keys()) {
    const values = (await scrape(cluster, node)).samples.flatMap((x) => Object.values(x.labels))
    const leaked = values.filter((v) => v.includes('metric/') || txIds.includes(v))
    t.same(leaked, [], `${node}: no label carries a key or a txId`)
  }

  // A reconnect: the coordinator restarted, each participant counts its link coming up again.
  await cluster.kill('coordinator')
  await cluster.start('coordinator')
  await cluster.waitReady()
  for (const p of cluster.participantNames) {
    await waitFor(async () => valueOf((await scrape(cluster, p)).samples, 'txn_link_reconnects_total', { peer: 'coordinator' }) === 1, 20000, `${p} to count the coordinator's reconnect`)
    t.pass(`${p}: txn_link_reconnects_total{peer="coordinator"} 1`)
  }
  t.equal(valueOf((await scrape(cluster, 'coordinator')).samples, 'txn_transactions_total'), 0, 'a restarted coordinator counts from zero (Prometheus handles counter resets)')
})

t.test('Paxos Commit: the acceptor links are counted too', async (t) => {
  const cluster = await startCluster(t, { env: { COMMIT_PROTOCOL: 'paxos-commit', LOG_LEVEL: 'info' } })
  // startCluster waited for every participant to dial every other (a 2a sent before is lost).
  t.equal((await submit(cluster, [{ key: 'metric/px', value: 'v' }])).body.outcome, 'committed')
  const sentToP2 = async (): Promise<number> => valueOf((await scrape(cluster, 'p1')).samples, 'txn_link_frames_sent_total', { peer: 'p2' })
  await waitFor(async () => (await sentToP2()) >= 1, 10000, 'p1 to count its 2a to p2')
  const ps = (await scrape(cluster, 'p1')).samples
  t.ok(valueOf(ps, 'txn_link_frames_sent_total', { peer: 'p2' }) >= 1, 'p1 sent its 2a to p2 on the link it dialled')
  t.ok(valueOf(ps, 'txn_link_frames_received_total', { peer: 'acceptor-inbound' }) >= 1, 'and received the others\' on its acceptor endpoint')
  t.ok(has(ps, 'txn_refused_frames_total', { link: 'acceptor' }), 'the acceptor endpoint\'s refused frames are a series')
})

t.test('2PC, the coordinator dead after the votes: the transaction in doubt shows in every participant\'s gauges', async (t) => {
  const cluster = await startCluster(t, { env: { LOG_LEVEL: 'info' }, nodeEnv: { coordinator: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  await t.rejects(submit(cluster, [{ key: 'metric/held', value: 'v' }, { key: 'metric/held2', value: 'v' }]), 'the client is cut off')
  await cluster.waitExit('coordinator')
  await new Promise((ok) => setTimeout(ok, 1100))
  for (const p of cluster.participantNames) {
    const ps = (await scrape(cluster, p)).samples
    t.equal(valueOf(ps, 'txn_in_doubt_transactions'), 1, `${p}: one transaction in doubt`)
    t.ok(valueOf(ps, 'txn_in_doubt_oldest_age_seconds') >= 1, `${p}: in doubt for a second or more (${valueOf(ps, 'txn_in_doubt_oldest_age_seconds')} s)`)
    t.equal(valueOf(ps, 'txn_locks_held'), 2, `${p}: its two keys locked`)
  }
})
