import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ClassicLevel } from 'classic-level'
import { nodeArgs, productionEnv, repoRoot, waitFor } from '../../scripts/lib/local-cluster.ts'
import { replicaIdentityKey } from '../../shared/core/record-keys.ts'
import { http, startCluster, submit, waitPeersLinked, waitSettled, type LocalCluster } from '../helpers/cluster.ts'
import { nodeLogText, parseLog } from '../helpers/node-log.ts'

/**
 * Rebuilding a lost replica with the real processes: a participant whose
 * data directory is wiped refuses to join (a coordinator knows another
 * replica of it) and exits with a line naming the rebuild command; the
 * rebuild copies a live peer's replica, checks its digest, and swaps it in;
 * the node then takes part again and the replicas are identical. A rebuild
 * cut short (the source killed mid-export, the tool killed mid-import)
 * leaves the data directory as it was.
 */

interface ToolRun { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function rebuild(cluster: LocalCluster, target: string, from: string, env: Record<string, string> = {}, extra: string[] = []): Promise<ToolRun> {
  const args = [...nodeArgs('replica'), 'rebuild', target, '--from', from, '--from-url', cluster.urlOf(from), '--data-dir', cluster.spec(target).dataDir, ...extra]
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...productionEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise((ok) => child.once('close', (code, signal) => { ok({ code, signal, stdout, stderr }) }))
}

async function digests(cluster: LocalCluster): Promise<{ participant: string; entries: number; digest: string }[]> {
  return Promise.all(cluster.participantNames.map(async (p) => (await http<{ participant: string; entries: number; digest: string }>(`${cluster.urlOf(p)}/v1/replica/digest`, { dispatcher: cluster.dispatcher })).body))
}

/** The replica identity stored in a (stopped) node's data directory. */
async function identityIn(dir: string): Promise<unknown> {
  const db = new ClassicLevel<string, unknown>(dir, { valueEncoding: 'json', createIfMissing: false })
  await db.open()
  try {
    return await db.get(replicaIdentityKey)
  } finally {
    await db.close()
  }
}

/** Wipes the node's data directory and starts it: it must refuse and exit. */
async function wipeAndSeeItRefuse(t: Test, cluster: LocalCluster, node: string): Promise<void> {
  await cluster.kill(node)
  rmSync(cluster.spec(node).dataDir, { recursive: true, force: true })
  cluster.launch(node)
  t.match(await cluster.waitExit(node, 30000), { code: 78 }, `${node}, its data directory wiped, refuses to join and exits (78)`)
  const refusal = parseLog(nodeLogText(cluster.options.dataRoot, node)).find((l) => l.code === 'replica_unknown')
  t.match(refusal?.msg, new RegExp(`refusing to start: .* npm run replica -- rebuild ${node} --from`), 'its last line points at the rebuild command')
}

/**
 * Paxos Commit: a wiped node forgot its promises and acceptances, so until a coordinator admits its replica it
 * takes no acceptor link. With the coordinator down, it starts and stays up unadmitted: p1's link to it is refused.
 */
async function acceptorClosedUntilAdmitted(t: Test, cluster: LocalCluster, node: string): Promise<void> {
  await cluster.kill('coordinator')
  await cluster.kill(node)
  rmSync(cluster.spec(node).dataDir, { recursive: true, force: true })
  await cluster.start(node)
  const status = async (p: string) => (await http<{ acceptor: { refusedConnections: number }; peers: Record<string, { connected: boolean }> }>(`${cluster.urlOf(p)}/v1/status`, { dispatcher: cluster.dispatcher })).body
  await waitFor(async () => (await status(node)).acceptor.refusedConnections >= 2, 20000, `${node} to refuse its peers' acceptor links`)
  t.equal((await status('p1')).peers[node]?.connected, false, `p1 has no acceptor link to the unadmitted ${node}`)
  const refusal = parseLog(nodeLogText(cluster.options.dataRoot, node)).find((l) => l.code === 'replica_not_admitted')
  t.ok(refusal, 'the refusal is logged')
  await cluster.kill(node)
  await cluster.start('coordinator')
}

for (const protocol of ['2pc', 'paxos-commit'] as const) {
  t.test(`wipe → refuse → rebuild → commit → identical (${protocol})`, async (t) => {
    const cluster = await startCluster(t, { participants: 3, env: { COMMIT_PROTOCOL: protocol } })
    // Data of every kind a replica holds: entries, a client id's claim, a delete's version floor, resolved markers.
    for (let i = 0; i < 40; i++) t.equal((await submit(cluster, [{ key: `k${i}`, value: `v${i}` }], i === 0 ? { id: 'client-0' } : {})).body.outcome, 'committed')
    t.equal((await submit(cluster, [{ key: 'k1', delete: true }])).body.outcome, 'committed')
    await waitSettled(cluster)
    const before = await digests(cluster)
    t.ok(before.every((d) => d.digest === before[0]!.digest && d.entries > 40), 'identical replicas before')

    if (protocol === 'paxos-commit') await acceptorClosedUntilAdmitted(t, cluster, 'p2')
    await wipeAndSeeItRefuse(t, cluster, 'p2')
    t.equal((await submit(cluster, [{ key: 'during', value: 'x' }])).body.outcome, 'aborted', 'with p2 out, nothing commits (every commit needs every replica)')

    const run = await rebuild(cluster, 'p2', 'p1')
    t.equal(run.code, 0, `the rebuild succeeds: ${run.stderr}`)
    const result = JSON.parse(run.stdout) as { rebuilt: boolean; entries: number; digest: string }
    t.match(result, { rebuilt: true, participant: 'p2', from: 'p1', entries: before[0]!.entries, digest: before[0]!.digest }, 'it copied exactly the source\'s replica (digest checked)')
    t.notOk(existsSync(`${cluster.spec('p2').dataDir}.rebuild-tmp`), 'no temporary copy left')
    t.match(await identityIn(cluster.spec('p2').dataDir), { origin: 'rebuilt', from: 'p1', admitted: true, digest: before[0]!.digest })

    // A second run refuses to replace a replica that holds data.
    const again = await rebuild(cluster, 'p2', 'p1')
    t.equal(again.code, 1)
    t.match(again.stderr, /holds data: it is not a lost replica\. --force replaces it/)

    await cluster.start('p2')
    await cluster.waitReady()
    if (protocol === 'paxos-commit') await waitPeersLinked(cluster)
    t.match((await submit(cluster, [{ key: 'after', value: 'y' }, { key: 'k1', value: 'back' }])).body, { outcome: 'committed', versions: { after: 1 } }, 'the cluster commits again')
    t.match((await submit(cluster, [{ key: 'k0', value: 'v0' }], { id: 'client-0' })).body, { outcome: 'committed', versions: { k0: 1 } }, 'a client id\'s retry still gets its first outcome (the claim was copied)')
    await waitSettled(cluster)
    const after = await digests(cluster)
    t.ok(after.every((d) => d.digest === after[0]!.digest), `replicas identical after: ${JSON.stringify(after)}`)
    t.equal(after[0]!.entries, before[0]!.entries + 2)
  })
}

t.test('a corrupt data directory: refused without --force, rebuilt with it', async (t) => {
  const cluster = await startCluster(t, { participants: 2 })
  t.equal((await submit(cluster, [{ key: 'a', value: 'x' }])).body.outcome, 'committed')
  await waitSettled(cluster)
  await cluster.kill('p2')
  const dir = cluster.spec('p2').dataDir
  // LevelDB's CURRENT names the manifest: pointing it at nothing makes the directory unopenable.
  writeFileSync(join(dir, 'CURRENT'), 'MANIFEST-999999\n')
  const refused = await rebuild(cluster, 'p2', 'p1')
  t.match([refused.code, refused.stderr], [1, /cannot be opened .*--force replaces it/])
  const forced = await rebuild(cluster, 'p2', 'p1', {}, ['--force'])
  t.equal(forced.code, 0, forced.stderr)
  await cluster.start('p2')
  await cluster.waitReady()
  t.equal((await submit(cluster, [{ key: 'b', value: 'y' }])).body.outcome, 'committed')
  await waitSettled(cluster)
  const after = await digests(cluster)
  t.ok(after.every((d) => d.digest === after[0]!.digest && d.entries === 2), `replicas identical: ${JSON.stringify(after)}`)
  const usage = await rebuild(cluster, 'p2', 'p1', {}, ['--help'])
  t.match([usage.code, usage.stdout], [0, /npm run replica -- rebuild <participant> --from <participant>/])
})

t.test('a rebuild cut short leaves the data directory as it was; the next one succeeds', async (t) => {
  const cluster = await startCluster(t, { participants: 3 })
  for (let i = 0; i < 30; i++) t.equal((await submit(cluster, [{ key: `k${i}`, value: `v${i}` }])).body.outcome, 'committed')
  await waitSettled(cluster)
  await wipeAndSeeItRefuse(t, cluster, 'p3')
  const dir = cluster.spec('p3').dataDir
  const lost = await identityIn(dir)
  t.match(lost, { origin: 'empty' })

  // The tool killed after writing part of the copy.
  const killed = await rebuild(cluster, 'p3', 'p1', { TXN_FAILPOINTS: 'rebuild.midImport=crash' })
  t.equal(killed.signal, 'SIGKILL', 'the tool died mid-import')
  t.same(await identityIn(dir), lost, 'the data directory is untouched')

  // The source killed mid-export.
  await cluster.kill('p1')
  cluster.spec('p1').env.TXN_FAILPOINTS = 'participant.midReplicaExport=crash@10'
  await cluster.start('p1')
  const cut = await rebuild(cluster, 'p3', 'p1')
  t.equal(cut.code, 1)
  t.match(cut.stderr, /ended without its trailer|broke off/, `the tool says the export was cut: ${cut.stderr}`)
  t.match(cut.stderr, /The data directory is as it was/)
  t.same(await identityIn(dir), lost, 'the data directory is untouched')
  t.notOk(existsSync(`${dir}.rebuild-tmp`), 'the partial copy is removed')
  t.match(await cluster.waitExit('p1', 10000), { signal: 'SIGKILL' })

  // The source back (without the failpoint).
  delete cluster.spec('p1').env.TXN_FAILPOINTS
  await cluster.start('p1')

  // What the tool refuses, each leaving the directory as it was: the wrong source's URL, a directory in use.
  const wrongSource = await rebuild(cluster, 'p3', 'p1', {}, ['--from-url', cluster.urlOf('p2')])
  t.match([wrongSource.code, wrongSource.stderr], [1, /the export is p2's, not p1's: check --from-url/])
  const inUse = new ClassicLevel(dir)
  await inUse.open()
  const locked = await rebuild(cluster, 'p3', 'p1')
  await inUse.close()
  t.match([locked.code, locked.stderr], [1, /is in use: stop p3 first/])
  t.same(await identityIn(dir), lost, 'the data directory is untouched')
  const usage = await rebuild(cluster, 'p3', 'p1', {}, ['--wait-ms', 'soon'])
  t.match([usage.code, usage.stderr], [1, /--wait-ms wants whole milliseconds/])

  // And the rebuild again, and the cluster whole; it clears what a swap cut short between its renames would leave.
  mkdirSync(`${dir}.replaced-1`)
  const done = await rebuild(cluster, 'p3', 'p1')
  t.equal(done.code, 0, done.stderr)
  t.notOk(existsSync(`${dir}.replaced-1`), 'an old directory left aside by an earlier run is cleared')
  await cluster.start('p3')
  await cluster.waitReady()
  t.equal((await submit(cluster, [{ key: 'after', value: 'z' }])).body.outcome, 'committed')
  await waitSettled(cluster)
  const after = await digests(cluster)
  t.ok(after.every((d) => d.digest === after[0]!.digest && d.entries === 31), `replicas identical: ${JSON.stringify(after)}`)
})

t.test('a node whose DATA_DIR is missing beside a store in its parent (the image\'s DATA_DIR moved to /data/db) refuses to start', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-moved-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  writeFileSync(join(root, 'CURRENT'), 'MANIFEST-000001\n')
  for (const role of ['participant', 'coordinator'] as const) {
    const env = { ...productionEnv(), DATA_DIR: join(root, 'db'), CLUSTER_TOKEN: 'a-cluster-token', PARTICIPANT_ID: 'p1', PARTICIPANT_PORT: '0', COORDINATOR_PORT: '0', PARTICIPANTS: 'p1=ws://127.0.0.1:1/v1/peer' }
    const child = spawn(process.execPath, nodeArgs(role), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    // A node that does not refuse would run on: stopped after 30 s, it fails the check below.
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 30000)
    const code = await new Promise((ok) => child.once('close', ok))
    clearTimeout(timer)
    t.equal(code, 1, `${role}: exits 1`)
    t.match(stderr, /DATA_DIR .*\/db does not exist, but .* holds a LevelDB store/, `${role}: one line saying why and how to move it`)
    t.notOk(existsSync(join(root, 'db')), `${role}: no empty store created`)
  }
})
