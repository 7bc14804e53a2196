import t from 'tap'
import { installedPostgresVersion, PostgresPeer } from '../../scripts/lib/postgres-peer.ts'

const TRANSACTIONS = 300
const CONCURRENCY = 4
const KEYS_PER_WORKER = 16

const missing = installedPostgresVersion() === undefined ? 'PostgreSQL is not installed here (no pg_createcluster on PATH or no server under /usr/lib/postgresql): apt-get install -y postgresql' : false

t.test('the PostgreSQL 2PC peer (bench --peer postgres): every transaction commits on all three instances, which then hold the same rows and no prepared transaction', { skip: missing }, async (t) => {
  const peer = await PostgresPeer.create({ count: 3, maxClients: CONCURRENCY })
  t.teardown(() => peer.destroy())
  const settings = await peer.settings()
  t.match(settings, { fsync: 'on', synchronous_commit: 'on', max_prepared_transactions: String }, 'durability as PostgreSQL ships it')
  t.ok(Number(settings.max_prepared_transactions) >= CONCURRENCY, 'room for one prepared transaction per client')

  // The value names the transaction, so a replica that missed or reordered one would differ.
  const load = await peer.runLoad(CONCURRENCY, 50_000, (w, n) => [{ key: `w${w}/k${n % KEYS_PER_WORKER}`, value: `${w}:${n}` }], TRANSACTIONS)
  t.match(load, { requests: TRANSACTIONS, committed: TRANSACTIONS, aborted: 0, errors: 0 }, `${TRANSACTIONS} transactions, each committed`)

  const [first, ...others] = (await peer.contents()).map((rows) => Object.fromEntries(rows))
  t.ok(Object.keys(first!).length > 0, 'rows were written')
  for (const [i, rows] of others.entries()) t.same(rows, first, `instance ${i + 2} holds what instance 1 holds`)
  const latestByWorker = new Map<string, number>()
  for (const value of Object.values(first!)) {
    const [w, n] = value.split(':')
    latestByWorker.set(w!, Math.max(latestByWorker.get(w!) ?? -1, Number(n)))
  }
  for (const [w, last] of latestByWorker) {
    // Each key holds the last transaction that wrote it: a worker's n-th transaction writes key n mod 16.
    for (let k = 0; k < Math.min(KEYS_PER_WORKER, last + 1); k++) {
      const lastWriter = last - ((last - k) % KEYS_PER_WORKER)
      t.equal(first![`w${w}/k${k}`], `${w}:${lastWriter}`, `w${w}/k${k} holds its last write`)
    }
  }
  t.same(await peer.preparedCounts(), [0, 0, 0], 'pg_prepared_xacts is empty on every instance')
})
