import { execFile } from 'node:child_process'
import { appendFileSync, existsSync, readdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { escapeLiteral, Pool, type PoolClient } from 'pg'
import { freePort } from './local-cluster.ts'
import type { LoadResult } from './load.ts'
import { percentile } from './stats.ts'

/**
 * PostgreSQL's own two-phase commit as a peer to measure our cluster against:
 * N local PostgreSQL instances (Debian's pg_createcluster, on 127.0.0.1 only)
 * holding one replica each of a key-value table, driven the way an
 * application coordinator drives them. Per transaction it sends every
 * instance `BEGIN; INSERT … ON CONFLICT DO UPDATE; PREPARE TRANSACTION`, all
 * at once, then `COMMIT PREPARED` to every instance, all at once; if any
 * PREPARE fails it rolls back the prepared ones and counts an abort. Like our
 * participants, every instance receives every write.
 *
 * PostgreSQL keeps its defaults (fsync on, synchronous_commit on) except what
 * this needs: listen_addresses (127.0.0.1), max_connections (the default 100
 * is below the top concurrency) and max_prepared_transactions (0 by default,
 * where PREPARE TRANSACTION fails).
 */

export const POSTGRES_MISSING = 'PostgreSQL is not installed (pg_createcluster and a server under /usr/lib/postgresql are needed): install it with `apt-get install -y postgresql`'

/** Cluster names carry the owning process's pid, so a later run can tell a crashed run's leftovers from a live run's instances. */
const NAME_PREFIX = 'txnpeer'
const STALE_NAME = new RegExp(`^${NAME_PREFIX}-(\\d+)-\\d+$`)
/** Ports tried first: next to Debian's default cluster (5432), as the tools notes have it. */
const PREFERRED_FIRST_PORT = 5433
/** Connections beyond the clients': the admin connection per instance, and superuser_reserved_connections (3) are taken off max_connections. */
const SPARE_CONNECTIONS = 10

const run = promisify(execFile)

/** The highest PostgreSQL server version installed, if Debian's cluster tools are on PATH too. */
export function installedPostgresVersion(): string | undefined {
  const onPath = (process.env.PATH ?? '').split(delimiter).some((dir) => existsSync(join(dir, 'pg_createcluster')))
  if (!onPath || !existsSync('/usr/lib/postgresql')) return undefined
  const versions = readdirSync('/usr/lib/postgresql').filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'postgres')))
  return versions.sort((a, b) => Number(a) - Number(b)).at(-1)
}

/** One write of a transaction; every instance receives all of them. */
export interface PeerWrite {
  key: string
  value: string
}

interface Instance {
  name: string
  port: number
  /** One connection for setup, settings and checks, apart from the measured clients. */
  admin: Pool
}

/** The settings in force on an instance, read back with SHOW, so the report says what was measured. */
export type PostgresSettings = Record<(typeof REPORTED_SETTINGS)[number], string>
const REPORTED_SETTINGS = ['server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_connections', 'max_prepared_transactions'] as const

export class PostgresPeer {
  private transactionSeq = 0

  private constructor(
    readonly version: string,
    private readonly instances: Instance[],
  ) {}

  /** Creates, configures and starts `count` fresh instances able to serve `maxClients` concurrent clients each. */
  static async create(options: { count: number; maxClients: number }): Promise<PostgresPeer> {
    const version = installedPostgresVersion()
    if (version === undefined) throw new Error(POSTGRES_MISSING)
    await dropStaleClusters(version)
    const ports = await pickPorts(options.count, version)
    const names = ports.map((_, i) => `${NAME_PREFIX}-${process.pid}-${i + 1}`)
    const instances: Instance[] = []
    const peer = new PostgresPeer(version, instances)
    try {
      // One at a time: initdb is mostly fsyncs on one disk, and a failure leaves fewer clusters to clean up.
      for (const [i, name] of names.entries()) {
        const port = ports[i]!
        // Listed before it is created, so that a half-done create is cleaned up too.
        instances.push({ name, port, admin: newPool(port, 1) })
        await createCluster(version, name, port, options.maxClients + SPARE_CONNECTIONS)
        await startCluster(version, name)
      }
      for (const instance of instances) await prepareInstance(instance.admin)
    } catch (err) {
      await peer.destroy()
      throw err
    }
    return peer
  }

  get ports(): number[] {
    return this.instances.map((i) => i.port)
  }

  /** The settings in force, from the first instance (all are created alike). */
  async settings(): Promise<PostgresSettings> {
    const admin = this.instances[0]!.admin
    const entries = await Promise.all(REPORTED_SETTINGS.map(async (name) => [name, await show(admin, name)] as const))
    return Object.fromEntries(entries) as PostgresSettings
  }

  /**
   * A closed loop like runLoad's: `concurrency` clients, each with its own
   * connection to every instance, run one transaction after another until
   * `durationMs` has passed (or `maxTransactions` have been started).
   */
  async runLoad(concurrency: number, durationMs: number, writes: (worker: number, n: number) => PeerWrite[], maxTransactions = Infinity): Promise<LoadResult> {
    const pools = this.instances.map((i) => newPool(i.port, concurrency))
    const acquired: PoolClient[] = []
    const connect = async (pool: Pool): Promise<PoolClient> => {
      const client = await pool.connect()
      acquired.push(client)
      return client
    }
    try {
      // Connected before the clock starts: a pool in steady state, not backend start-up, is what is measured.
      const connections = await Promise.all(Array.from({ length: concurrency }, () => Promise.all(pools.map(connect))))
      const tally: Tally = { started: 0, committed: 0, aborted: 0, error: 0, latencies: [] }
      const deadline = Date.now() + durationMs
      const started = process.hrtime.bigint()
      const worker = async (w: number): Promise<void> => {
        for (let n = 0; Date.now() < deadline && tally.started < maxTransactions; n++) {
          tally.started++
          const t = process.hrtime.bigint()
          const outcome = await this.transaction(connections[w]!, writes(w, n))
          tally.latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
          tally[outcome]++
        }
      }
      await Promise.all(connections.map((_, w) => worker(w)))
      return loadResult(concurrency, Number(process.hrtime.bigint() - started) / 1e9, tally)
    } finally {
      // A pool ends only once its clients are back, including those of a failed start.
      for (const client of acquired) client.release()
      await Promise.all(pools.map((p) => p.end()))
    }
  }

  /** Each instance's committed rows, key → value, to check that the replicas agree. */
  async contents(): Promise<Map<string, string>[]> {
    return Promise.all(this.instances.map(async (i) => {
      const rows = await i.admin.query<{ key: string; value: string }>('SELECT key, value FROM kv ORDER BY key')
      return new Map(rows.rows.map((r) => [r.key, r.value]))
    }))
  }

  /** How many prepared transactions each instance still holds (0 after a clean run). */
  async preparedCounts(): Promise<number[]> {
    return Promise.all(this.instances.map(async (i) => (await preparedGids(i.admin)).length))
  }

  /** Stops and drops every instance that exists; safe to call after a partial create, and twice. */
  async destroy(): Promise<void> {
    const existing = new Set((await listClusters(this.version)).map((c) => c.name))
    for (const instance of this.instances.splice(0)) {
      await instance.admin.end().catch(() => undefined)
      if (!existing.has(instance.name)) continue
      await stopCluster(this.version, instance.name).catch(() => undefined) // it may never have started
      await dropCluster(this.version, instance.name)
    }
  }

  /** One distributed transaction over `clients` (one connection per instance). */
  private async transaction(clients: PoolClient[], writes: PeerWrite[]): Promise<Outcome> {
    const gid = `${NAME_PREFIX}-${process.pid}-${++this.transactionSeq}`
    const prepared = await Promise.all(clients.map((c) => prepareOn(c, writes, gid)))
    if (prepared.every(Boolean)) {
      const commits = await Promise.allSettled(clients.map((c) => c.query(`COMMIT PREPARED ${escapeLiteral(gid)}`)))
      return commits.every((r) => r.status === 'fulfilled') ? 'committed' : 'error'
    }
    const rollbacks = await Promise.allSettled(clients.filter((_, i) => prepared[i]).map((c) => c.query(`ROLLBACK PREPARED ${escapeLiteral(gid)}`)))
    return rollbacks.every((r) => r.status === 'fulfilled') ? 'aborted' : 'error'
  }
}

/**
 * Phase one on one instance, in one round trip (one simple-query message, as
 * our coordinator sends one PREPARE frame per participant). True if prepared.
 */
async function prepareOn(client: PoolClient, writes: PeerWrite[], gid: string): Promise<boolean> {
  const rows = writes.map((w) => `(${escapeLiteral(w.key)}, ${escapeLiteral(w.value)})`).join(', ')
  try {
    await client.query(`BEGIN; INSERT INTO kv (key, value) VALUES ${rows} ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value; PREPARE TRANSACTION ${escapeLiteral(gid)}`)
    return true
  } catch {
    // A failed INSERT leaves the transaction block open and aborted; a failed PREPARE has already rolled back (then this only warns).
    await client.query('ROLLBACK').catch(() => undefined)
    return false
  }
}

/** Aborted: a PREPARE failed and the prepared ones were rolled back. Error: a COMMIT PREPARED or ROLLBACK PREPARED failed (left in doubt). */
type Outcome = 'committed' | 'aborted' | 'error'

type Tally = Record<Outcome, number> & { started: number; latencies: number[] }

function loadResult(concurrency: number, durationS: number, tally: Tally): LoadResult {
  const requests = tally.latencies.length
  return {
    concurrency,
    durationS,
    requests,
    committed: tally.committed,
    aborted: tally.aborted,
    errors: tally.error,
    committedPerS: tally.committed / durationS,
    requestsPerS: requests / durationS,
    abortRate: requests === 0 ? 0 : tally.aborted / requests,
    p50Ms: percentile(tally.latencies, 50),
    p95Ms: percentile(tally.latencies, 95),
    p99Ms: percentile(tally.latencies, 99),
  }
}

function newPool(port: number, size: number): Pool {
  const pool = new Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: size })
  // An idle client whose server goes away emits 'error' on the pool; unhandled, that would end the process.
  pool.on('error', () => undefined)
  return pool
}

/** The table, once the server accepts connections; and no prepared transaction left over to hold locks. */
async function prepareInstance(admin: Pool): Promise<void> {
  await waitUntilAccepting(admin)
  for (const gid of await preparedGids(admin)) await admin.query(`ROLLBACK PREPARED ${escapeLiteral(gid)}`)
  await admin.query('CREATE TABLE IF NOT EXISTS kv (key text PRIMARY KEY, value text NOT NULL)')
}

async function waitUntilAccepting(admin: Pool, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await admin.query('SELECT 1')
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((ok) => setTimeout(ok, 200))
    }
  }
}

async function preparedGids(admin: Pool): Promise<string[]> {
  return (await admin.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts')).rows.map((r) => r.gid)
}

async function show(admin: Pool, setting: string): Promise<string> {
  const result = await admin.query<Record<string, string>>(`SHOW ${setting}`)
  return result.rows[0]![setting]!
}

async function createCluster(version: string, name: string, port: number, maxConnections: number): Promise<void> {
  await run('pg_createcluster', [version, name, '--port', String(port), '--start-conf', 'manual', '--quiet', '--', '--auth=trust'])
  // Appended to postgresql.conf, where the last setting wins. Not through pg_createcluster -o: it writes 127.0.0.1 unquoted, which the server cannot parse.
  appendFileSync(`/etc/postgresql/${version}/${name}/postgresql.conf`, [
    '',
    '# bench --peer postgres: loopback only, and room for every client; all else as PostgreSQL ships it.',
    "listen_addresses = '127.0.0.1'",
    `max_connections = ${maxConnections}`,
    // One per connection at most: every client holds at most one prepared transaction per instance.
    `max_prepared_transactions = ${maxConnections}`,
    '',
  ].join('\n'))
}

async function startCluster(version: string, name: string): Promise<void> {
  // There is no systemd here: without the flag pg_ctlcluster may hand the start to systemctl.
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'start'])
}

async function stopCluster(version: string, name: string): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', '-m', 'fast', version, name, 'stop'])
}

async function dropCluster(version: string, name: string): Promise<void> {
  await run('pg_dropcluster', [version, name])
}

/** The version's clusters as pg_lsclusters lists them: name, port, and whether it is ours and its owning run is gone. */
async function listClusters(version: string): Promise<{ name: string; port: number; stale: boolean }[]> {
  const { stdout } = await run('pg_lsclusters', ['--no-header'])
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)).filter(([v]) => v === version).map(([, name, port]) => {
    const owner = STALE_NAME.exec(name ?? '')?.[1]
    return { name: name ?? '', port: Number(port), stale: owner !== undefined && !processAlive(Number(owner)) }
  })
}

/** Clusters left by a run that died before its teardown: stopped and dropped, so their ports, disk and prepared transactions go too. */
async function dropStaleClusters(version: string): Promise<void> {
  for (const cluster of await listClusters(version)) {
    if (!cluster.stale) continue
    await stopCluster(version, cluster.name).catch(() => undefined)
    await dropCluster(version, cluster.name)
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** 5433, 5434, … when neither a running server nor another cluster's configuration has them; else free ports. */
async function pickPorts(count: number, version: string): Promise<number[]> {
  const configured = new Set((await listClusters(version)).map((c) => c.port))
  const ports: number[] = []
  for (let i = 0; i < count; i++) {
    const preferred = PREFERRED_FIRST_PORT + i
    ports.push(!configured.has(preferred) && (await canListen(preferred)) ? preferred : await freePort())
  }
  return ports
}

async function canListen(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const server = createServer()
    server.once('error', () => { ok(false) })
    server.listen(port, '127.0.0.1', () => server.close(() => { ok(true) }))
  })
}
