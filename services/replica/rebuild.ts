import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { open, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { ClassicLevel } from 'classic-level'
import { recordPrefix, replicaIdentityKey } from '../../shared/core/record-keys.ts'
import { EntrySchema, recordReader } from '../../shared/core/protocol/record-reader.ts'
import type { Entry } from '../../shared/core/protocol/types.ts'
import type { Failpoints } from '../../shared/io/runtime/failpoints.ts'
import { EXPORT_FORMAT, EXPORTED_PREFIXES, type ExportHeader, type ExportTrailer } from '../../shared/io/storage/replica-export-format.ts'
import { ReplicaDigester, type ReplicaDigest } from '../../shared/io/storage/replica-digest.ts'
import type { ReplicaIdentity } from '../../shared/io/storage/replica-identity.ts'

export interface RebuildOptions {
  /** The participant being rebuilt, and its data directory (it must not be running). */
  target: string
  dataDir: string
  /** The live participant copied, and its HTTP URL. */
  from: string
  fromUrl: string
  adminToken?: string | undefined
  /** Replace a data directory that holds data (or cannot be opened) too. */
  force: boolean
  /** How long the source may wait for a moment with nothing prepared. */
  waitMs: number
  failpoints?: Failpoints | undefined
  /** Progress lines, for the operator. */
  say: (line: string) => void
}

export interface RebuildResult {
  participant: string
  from: string
  records: number
  entries: number
  digest: string
  replica: string
  ms: number
}

/** Why a rebuild stopped; the data directory is as it was. */
export class RebuildError extends Error {}

/** Records per LevelDB batch while importing. */
const IMPORT_BATCH = 1000

/**
 * Rebuilds a participant's replica from a live peer, all or nothing:
 *   1. checks the target's data directory is not in use, and is lost (missing, or a new empty replica) unless forced;
 *   2. copies the source's export into `<dataDir>.rebuild-tmp`;
 *   3. checks the copy on disk against the digest the source computed over what it sent;
 *   4. gives the copy its identity (origin `rebuilt`, which coordinators admit), synced;
 *   5. swaps it in by renames, and only then removes the old directory.
 * A failure or a kill before step 5 leaves the data directory untouched (the
 * next run clears the temporary copy); a kill between the two renames of
 * step 5 leaves no data directory, which the node treats as lost.
 */
export async function rebuildReplica(o: RebuildOptions): Promise<RebuildResult> {
  const started = Date.now()
  await checkTarget(o)
  const tmp = `${o.dataDir}.rebuild-tmp`
  await clearLeftovers(o.dataDir, tmp)
  const db = new ClassicLevel<string, unknown>(tmp, { valueEncoding: 'json' })
  await db.open()
  let imported: { header: ExportHeader; trailer: ExportTrailer }
  let identity: ReplicaIdentity
  try {
    imported = await importExport(o, db)
    const onDisk = await digestOnDisk(db)
    if (onDisk.digest !== imported.trailer.digest || onDisk.entries !== imported.trailer.entries) {
      throw new RebuildError(`the copy on disk (${onDisk.entries} entries, ${onDisk.digest}) differs from what ${o.from} sent (${imported.trailer.entries}, ${imported.trailer.digest})`)
    }
    identity = { id: randomUUID(), origin: 'rebuilt', createdAt: Date.now(), admitted: true, from: o.from, digest: onDisk.digest }
    await db.put(replicaIdentityKey, identity, { sync: true })
    await db.close()
  } catch (err) {
    await db.close()
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  try {
    // The node may have been started while the copy was made: its directory must not be swapped under it.
    await assertNotInUse(o)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  await swapIn(o.dataDir, tmp)
  const { trailer } = imported
  return { participant: o.target, from: o.from, records: trailer.records, entries: trailer.entries, digest: trailer.digest, replica: identity.id, ms: Date.now() - started }
}

/** What an earlier run killed midway left: its temporary copy, and an old directory moved aside by a swap cut short. */
async function clearLeftovers(dataDir: string, tmp: string): Promise<void> {
  await rm(tmp, { recursive: true, force: true })
  const aside = `${basename(dataDir)}.replaced-`
  for (const name of await readdir(dirname(dataDir)).catch(() => [])) {
    if (name.startsWith(aside)) await rm(join(dirname(dataDir), name), { recursive: true, force: true })
  }
}

/** Opens the data directory if it exists: null when it cannot be opened (corrupt); a RebuildError when its node holds it. */
async function openIfThere(o: RebuildOptions): Promise<ClassicLevel<string, unknown> | null | undefined> {
  if (!existsSync(o.dataDir)) return undefined
  const db = new ClassicLevel<string, unknown>(o.dataDir, { valueEncoding: 'json', createIfMissing: false })
  try {
    await db.open()
    return db
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') throw new RebuildError(`${o.dataDir} is in use: stop ${o.target} first`)
    if (o.force) return null
    throw new RebuildError(`${o.dataDir} cannot be opened (${(err as Error).message}); if it is corrupt, --force replaces it`)
  }
}

async function assertNotInUse(o: RebuildOptions): Promise<void> {
  await (await openIfThere({ ...o, force: true }))?.close()
}

/** The data directory must be free (its node stopped), and lost unless forced. */
async function checkTarget(o: RebuildOptions): Promise<void> {
  const db = await openIfThere(o)
  if (!db) return
  try {
    let records = 0
    for await (const key of db.keys()) {
      if (!key.startsWith(recordPrefix.meta)) records++
      if (records > 0) break
    }
    if (records > 0 && !o.force) throw new RebuildError(`${o.dataDir} holds data: it is not a lost replica. --force replaces it`)
  } finally {
    await db.close()
  }
}

async function importExport(o: RebuildOptions, db: ClassicLevel<string, unknown>): Promise<{ header: ExportHeader; trailer: ExportTrailer }> {
  const url = `${o.fromUrl}/v1/replica/export?waitMs=${o.waitMs}`
  const res = await fetch(url, { headers: o.adminToken ? { authorization: `Bearer ${o.adminToken}` } : {} }).catch((err: unknown) => {
    throw new RebuildError(`${o.from} (${o.fromUrl}) did not answer: ${(err as Error).message}`)
  })
  if (res.status !== 200 || res.body === null) throw new RebuildError(`${o.from} refused the export: ${res.status} ${await res.text()}`)
  let header: ExportHeader | undefined
  let trailer: ExportTrailer | undefined
  let batch: { type: 'put'; key: string; value: unknown }[] = []
  let records = 0
  const digester = new ReplicaDigester()
  const readEntry = recordReader(EntrySchema)
  const flush = async (): Promise<void> => {
    await db.batch(batch)
    batch = []
    o.failpoints?.hit('rebuild.midImport')
  }
  try {
    // One record per line (node's readline splits the body; an empty line is none).
    for await (const line of createInterface({ input: Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), crlfDelay: Infinity })) {
      if (line === '') continue
      const parsed: unknown = JSON.parse(line)
      if (header === undefined) {
        header = checkHeader(parsed, o.from)
      } else if (trailer !== undefined) {
        throw new RebuildError('a line after the trailer')
      } else if (Array.isArray(parsed)) {
        const [key, value] = parsed as [unknown, unknown]
        if (typeof key !== 'string' || !EXPORTED_PREFIXES.some((p) => key.startsWith(p))) throw new RebuildError(`a record under an unexpected key: ${JSON.stringify(key)}`)
        if (key.startsWith(recordPrefix.entry)) digester.add(key.slice(recordPrefix.entry.length), readEntry(key, value))
        batch.push({ type: 'put', key, value })
        records++
        if (batch.length >= IMPORT_BATCH) await flush()
      } else {
        trailer = parsed as ExportTrailer
      }
    }
  } catch (err) {
    if (err instanceof RebuildError) throw err
    throw new RebuildError(`the export from ${o.from} broke off: ${(err as Error).message}`)
  }
  if (header === undefined || trailer?.end !== true) throw new RebuildError(`the export from ${o.from} ended without its trailer (was ${o.from} killed?): nothing kept`)
  await flush()
  const received = digester.result()
  if (trailer.records !== records || !sameDigest(received, trailer)) {
    throw new RebuildError(`what arrived (${records} records, ${received.entries} entries, ${received.digest}) is not what ${o.from} sent (${trailer.records}, ${trailer.entries}, ${trailer.digest})`)
  }
  o.say(`copied ${records} records from ${o.from} (${trailer.entries} entries, digest ${trailer.digest})`)
  return { header, trailer }
}

function checkHeader(parsed: unknown, from: string): ExportHeader {
  const header = parsed as Partial<ExportHeader>
  if (header.format !== EXPORT_FORMAT) throw new RebuildError(`not a replica export (format ${JSON.stringify(header.format)})`)
  if (header.participant !== from) throw new RebuildError(`the export is ${String(header.participant)}'s, not ${from}'s: check --from-url`)
  return header as ExportHeader
}

const sameDigest = (a: ReplicaDigest, b: ReplicaDigest): boolean => a.entries === b.entries && a.digest === b.digest

/** The digest over the committed entries as the copy holds them on disk. */
async function digestOnDisk(db: ClassicLevel<string, unknown>): Promise<ReplicaDigest> {
  const digester = new ReplicaDigester()
  for await (const [key, value] of db.iterator({ gte: recordPrefix.entry })) {
    if (!key.startsWith(recordPrefix.entry)) break
    digester.add(key.slice(recordPrefix.entry.length), value as Entry)
  }
  return digester.result()
}

/**
 * The old directory aside, the copy in its place, the directory entry made
 * durable, then the old one removed: the data directory is at every moment
 * either the old replica, absent, or the whole new one.
 */
async function swapIn(dataDir: string, tmp: string): Promise<void> {
  const aside = `${dataDir}.replaced-${Date.now()}`
  const hadOld = existsSync(dataDir)
  if (hadOld) await rename(dataDir, aside)
  await rename(tmp, dataDir)
  const parent = await open(dirname(dataDir), 'r')
  try {
    await parent.sync()
  } finally {
    await parent.close()
  }
  if (hadOld) await rm(aside, { recursive: true, force: true })
}
