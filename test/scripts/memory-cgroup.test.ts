import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t, { type Test } from 'tap'
import { memoryLimit, memoryLimitUnavailable, ownGroup, type MemoryLimit } from '../../scripts/lib/memory-cgroup.ts'

/**
 * A node process started inside a group, as LocalCluster starts a node (a
 * shell joins the group, then execs node). It allocates and touches the MB
 * it is sent, and answers "held".
 */
function holder(procs: string): { child: ChildProcess; next: () => Promise<string> } {
  const code = `
    const held = []
    process.stdin.on('data', (d) => {
      for (let i = 0; i < Number(String(d).trim()); i++) held.push(Buffer.alloc(1024 * 1024, 1))
      process.stdout.write('held\\n')
    })
    process.stdout.write('ready\\n')`
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$PROCS" && exec "$@"', 'sh', process.execPath, '-e', code], { env: { ...process.env, PROCS: procs }, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return { child, next: async () => String((await lines.next()).value) }
}

/** Removed at the end of the test whatever happens (a group left behind stays until someone removes it). */
function limited(t: Test, name: string, mb: number): MemoryLimit {
  const limit = memoryLimit(name, mb)
  let removed = false
  t.teardown(() => { if (!removed) limit.remove() })
  return { ...limit, remove: () => { removed = true; limit.remove() } }
}

t.test('says why a limit cannot be set', async (t) => {
  t.match(memoryLimitUnavailable(1000), /need root/)
  t.match(memoryLimitUnavailable(0, '/nonexistent/memory'), /no cgroup v1 memory controller at \/nonexistent\/memory/)
  // A hierarchy where this process's group does not exist: no group can be made in it.
  const fake = mkdtempSync(join(tmpdir(), 'txn-cgroup-'))
  t.teardown(() => { rmSync(fake, { recursive: true, force: true }) })
  writeFileSync(join(fake, 'memory.limit_in_bytes'), '0')
  t.match(memoryLimitUnavailable(0, fake), /no memory group can be made here/)
})

t.test('its own group: the memory line of /proc/self/cgroup, under the root', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txn-cgroup-self-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const self = (text: string): string => {
    writeFileSync(join(dir, 'cgroup'), text)
    return join(dir, 'cgroup')
  }
  t.equal(ownGroup('/m', self('5:cpu:/x\n4:memory:/process_api/abc\n')), '/m/process_api/abc')
  t.equal(ownGroup('/m', self('3:cpu,memory:/a:b\n')), '/m/a:b', 'a controller list, and a colon in the path')
  t.equal(ownGroup('/m', self('0::/unified\n')), '/m', 'no memory line: the root')
})

t.test('a process started in a limited group: all its memory is charged there; past the limit the kernel kills it', { skip: memoryLimitUnavailable() ?? false }, async (t) => {
  const limit = limited(t, 'test', 160)
  const { child, next } = holder(limit.procs)
  t.teardown(() => { child.kill('SIGKILL') })
  t.equal(await next(), 'ready')
  child.stdin!.write('64\n')
  t.equal(await next(), 'held')
  t.ok(limit.peakMb() >= 64 + 20, `node itself and the 64 MB it holds are charged (${limit.peakMb().toFixed(0)} MB)`)
  t.equal(limit.oomKills(), 0)
  const exited = once(child, 'exit')
  child.stdin!.write('256\n')
  const [, signal] = (await exited) as [number | null, string | null]
  t.equal(signal, 'SIGKILL', 'killed for memory')
  t.equal(limit.oomKills(), 1, 'one kill counted')
  t.ok(limit.limitHits() > 0, 'the limit was reached')
  const peak = limit.peakMb()
  t.ok(peak <= 160, `never charged past the limit (${peak.toFixed(0)} MB)`)
  limit.resetPeak()
  t.ok(limit.peakMb() < peak && limit.limitHits() === 0, `reset: the peak starts again from what is charged now (${limit.peakMb().toFixed(0)} MB), no hits`)
  limit.remove()
  t.throws(() => limit.peakMb(), 'the group is gone')
})

t.test('remove moves a live process back out first', { skip: memoryLimitUnavailable() ?? false }, async (t) => {
  const limit = limited(t, 'test-live', 512)
  const { child, next } = holder(limit.procs)
  t.teardown(() => { child.kill('SIGKILL') })
  t.equal(await next(), 'ready')
  limit.remove()
  t.throws(() => limit.peakMb(), 'the group is gone')
  child.stdin!.write('1\n')
  t.equal(await next(), 'held', 'its process lives on')
})
