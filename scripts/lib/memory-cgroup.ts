import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A hard memory limit, through a Linux cgroup v1 memory controller, as a
 * container's limit would be (bench --memory-limit). A process started in
 * the group (its `procs` file, see LocalCluster's cgroupProcs) has
 * everything it allocates charged there: its own memory and the page cache
 * it touches (LevelDB maps its tables, so pages it reads count in VmRSS).
 * Near the limit the kernel reclaims cached pages; it kills the process only
 * when what the process needs does not fit. The process must start inside:
 * this kernel no longer moves charges with a process that joins later.
 * Needs root.
 */
export interface MemoryLimit {
  /** Write a pid here to put that process in the group. */
  procs: string
  /** The highest charge the group saw, in MB. */
  peakMb(): number
  /** Processes the kernel killed for memory in this group. */
  oomKills(): number
  /** Times the charge reached the limit (and the kernel had to reclaim). */
  limitHits(): number
  /** Moves whatever is still in the group back to the root, and removes it. */
  remove(): void
}

/** Where the cgroup v1 memory hierarchy is mounted. */
export const MEMORY_CGROUP_ROOT = '/sys/fs/cgroup/memory'

/** Why no limit can be set here, or undefined when one can. */
export function memoryLimitUnavailable(uid = process.getuid?.(), root = MEMORY_CGROUP_ROOT): string | undefined {
  if (uid !== 0) return 'memory limits need root (a memory cgroup)'
  if (!existsSync(join(root, 'memory.limit_in_bytes'))) return `no cgroup v1 memory controller at ${root}`
  return undefined
}

/** A new, empty group named after `name` and this process, limited to `mb`. */
export function memoryLimit(name: string, mb: number, root = MEMORY_CGROUP_ROOT): MemoryLimit {
  const dir = join(root, `txn-bench-${process.pid}-${name}`)
  mkdirSync(dir)
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8')
  writeFileSync(join(dir, 'memory.limit_in_bytes'), String(mb * 1024 * 1024))
  return {
    procs: join(dir, 'cgroup.procs'),
    peakMb: () => Number(read('memory.max_usage_in_bytes')) / 1024 / 1024,
    /* c8 ignore next -- kernels before 4.13 do not count kills (no oom_kill line): none counted */
    oomKills: () => Number(/^oom_kill (\d+)$/m.exec(read('memory.oom_control'))?.[1] ?? 0),
    limitHits: () => Number(read('memory.failcnt')),
    remove: () => {
      for (const member of read('cgroup.procs').split('\n').filter(Boolean)) writeFileSync(join(root, 'cgroup.procs'), member)
      rmdirSync(dir)
    },
  }
}
