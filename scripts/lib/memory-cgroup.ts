import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A hard memory limit, through a Linux cgroup v1 memory controller, as a
 * container's limit would be (bench --memory-limit). A process started in
 * the group (its `procs` file, see LocalCluster's cgroupProcs) has
 * everything it allocates charged there: its own memory and the page cache
 * it brings in (a page is charged to whoever first read or wrote it). The
 * group does not swap (swappiness 0), so the limit is hard. The process must start inside: this
 * kernel no longer moves charges with a process that joins later. The group
 * is made inside this process's own memory group, so that any limit on the
 * caller still covers it. Needs root.
 */
export interface MemoryLimit {
  /** Write a pid here to put that process in the group. */
  procs: string
  /** The highest charge since the group was made or resetPeak, in MB. */
  peakMb(): number
  /** Processes the kernel killed for memory in this group, since it was made. */
  oomKills(): number
  /** Times the charge reached the limit (and the kernel had to reclaim), since the group was made or resetPeak. */
  limitHits(): number
  /** Starts the peak and the limit hits over (each bench level reports its own). */
  resetPeak(): void
  /** Moves whatever is still in the group back to the caller's group, and removes it. */
  remove(): void
}

/** Where the cgroup v1 memory hierarchy is mounted. */
export const MEMORY_CGROUP_ROOT = '/sys/fs/cgroup/memory'

/** The memory group this process is in (from /proc/self/cgroup), as a directory under `root`. */
export function ownGroup(root = MEMORY_CGROUP_ROOT, self = '/proc/self/cgroup'): string {
  const line = readFileSync(self, 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))
  return line === undefined ? root : join(root, line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1))
}

/** Why no limit can be set here, or undefined when one can (a group is made and removed to find out). */
export function memoryLimitUnavailable(uid = process.getuid?.(), root = MEMORY_CGROUP_ROOT): string | undefined {
  if (uid !== 0) return 'memory limits need root (a memory cgroup)'
  if (!existsSync(join(root, 'memory.limit_in_bytes'))) return `no cgroup v1 memory controller at ${root}`
  const trial = join(ownGroup(root), `txn-bench-trial-${process.pid}`)
  try {
    mkdirSync(trial)
    rmdirSync(trial)
    return undefined
  } catch (err) {
    return `no memory group can be made here (${(err as Error).message})`
  }
}

/** A new, empty group named after `name` and this process, limited to `mb` of memory and no swap. */
export function memoryLimit(name: string, mb: number, root = MEMORY_CGROUP_ROOT): MemoryLimit {
  const parent = ownGroup(root)
  const dir = join(parent, `txn-bench-${process.pid}-${name}`)
  mkdirSync(dir)
  const file = (name: string): string => join(dir, name)
  const read = (name: string): string => readFileSync(file(name), 'utf8')
  writeFileSync(file('memory.limit_in_bytes'), String(mb * 1024 * 1024))
  // Near the limit the group reclaims without swapping its own memory out: the limit stays hard where swap exists
  // (a memsw limit would too, but on this kernel setting one stops the memory counter from counting its hits).
  writeFileSync(file('memory.swappiness'), '0')
  return {
    procs: file('cgroup.procs'),
    peakMb: () => Number(read('memory.max_usage_in_bytes')) / 1024 / 1024,
    /* c8 ignore next -- kernels before 4.13 do not count kills (no oom_kill line): none counted */
    oomKills: () => Number(/^oom_kill (\d+)$/m.exec(read('memory.oom_control'))?.[1] ?? 0),
    limitHits: () => Number(read('memory.failcnt')),
    resetPeak: () => {
      writeFileSync(file('memory.max_usage_in_bytes'), '0')
      writeFileSync(file('memory.failcnt'), '0')
    },
    remove: () => {
      for (const member of read('cgroup.procs').split('\n').filter(Boolean)) writeFileSync(join(parent, 'cgroup.procs'), member)
      rmdirSync(dir)
    },
  }
}
