import t from 'tap'
import { apiErrors } from '../../shared/core/api-errors.ts'
import { http, startCluster, submit, waitSettled } from '../helpers/cluster.ts'

interface InDoubt {
  coordinatorConnected: boolean
  count: number
  transactions: { txId: string; ageMs: number; keys: string[] }[]
}

t.test('2PC blocks while the coordinator is down: prepared participants stay in doubt and keep their locks, then resolve when it is back', async (t) => {
  // The coordinator logs COMMIT and dies before telling anyone: every participant voted YES and cannot decide alone.
  const cluster = await startCluster(t, { nodeEnv: { coordinator: { TXN_FAILPOINTS: 'coordinator.afterDecisionLogged=crash' } } })
  await t.rejects(submit(cluster, [{ key: 'blocked', value: 'v' }], { id: 'blocking-1' }), 'the client is cut off')
  await cluster.waitExit('coordinator')

  await new Promise((ok) => setTimeout(ok, 300))
  for (const p of cluster.participantNames) {
    const doubt = (await http<InDoubt>(`${cluster.urlOf(p)}/v1/in-doubt`)).body
    t.equal(doubt.coordinatorConnected, false, `${p} knows the coordinator is unreachable`)
    t.equal(doubt.count, 1, `${p} lists the in-doubt transaction`)
    t.match(doubt.transactions[0], { keys: ['blocked'], ageMs: Number })
    const replica = (await http<{ locks: number; entries: Record<string, unknown> }>(`${cluster.urlOf(p)}/v1/replica`)).body
    t.equal(replica.locks, 2, `${p} keeps the locks: the key and its client id's claim`)
    t.notOk(replica.entries.blocked, `${p} has not applied it`)
  }

  cluster.spec('coordinator').env.TXN_FAILPOINTS = ''
  await cluster.start('coordinator')
  await cluster.waitReady()
  const all = await waitSettled(cluster)
  for (const r of all) t.same(r.entries.blocked, { value: 'v', version: 1 }, `resolved as committed on ${r.participant}`)
  for (const p of cluster.participantNames) t.equal((await http<InDoubt>(`${cluster.urlOf(p)}/v1/in-doubt`)).body.count, 0)
  t.match((await http(`${cluster.url}/v1/transactions?id=blocking-1`)).body, { state: 'committed' })
})

t.test('a read of a key held by an undecided transaction waits, then answers 503 key_in_doubt', async (t) => {
  // A read sent to the frozen p3 times out quickly (READ_TIMEOUT_MS), so that the next ones reach p1/p2 while the
  // transaction is still undecided (until p3 is dropped by a missed heartbeat, 2-4 s).
  const cluster = await startCluster(t, { env: { READ_WAIT_MS: '300', READ_TIMEOUT_MS: '400' } })
  await submit(cluster, [{ key: 'held', value: 'old' }])
  cluster.pause('p3')
  const slow = submit(cluster, [{ key: 'held', value: 'new' }], { timeoutMs: 3000 })
  await new Promise((ok) => setTimeout(ok, 200))
  // Reads go round-robin; p3 is frozen, so a read sent there times out at the coordinator instead (a 503 too, but
  // another one). The 503 this test is about is the participant's own answer: it waited READ_WAIT_MS for the
  // holder to resolve and said "in doubt", which the coordinator passes on with the catalogue's message.
  const inDoubt = apiErrors.key_in_doubt.message
  let read = await http<{ error?: string; message?: string }>(`${cluster.url}/v1/keys/held`)
  for (let i = 0; i < 6 && read.body.message !== inDoubt; i++) read = await http(`${cluster.url}/v1/keys/held`)
  t.match(read, { status: 503, body: { error: 'key_in_doubt', message: inDoubt } }, 'a participant answered "in doubt" (not a coordinator timeout)')
  t.equal(read.headers.get('retry-after'), '1')
  cluster.resume('p3')
  const outcome = (await slow).body.outcome
  t.match(outcome, /^(committed|aborted)$/)
  await cluster.waitReady()
  await waitSettled(cluster)
  const expected = outcome === 'committed' ? { value: 'new', version: 2 } : { value: 'old', version: 1 }
  t.match(await http(`${cluster.url}/v1/keys/held`), { status: 200, body: { key: 'held', ...expected } }, `once resolved, the read shows the ${outcome} outcome`)
})
