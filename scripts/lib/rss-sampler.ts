import { readFileSync } from 'node:fs'

/** Resident set size of a live process, in MB (Linux /proc); 0 once it is gone. */
export function rssMb(pid: number): number {
  return vmRssMb(statusOf(pid))
}

/** A process's /proc/PID/status text; empty once it is gone (every field then reads 0). */
function statusOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return ''
  }
}

/** The VmRSS line of a /proc/PID/status text, in MB (kernel threads have none: 0). */
export function vmRssMb(status: string): number {
  return statusMb(status, 'VmRSS')
}

/**
 * The anonymous part of a live process's RSS, in MB (RssAnon): its own
 * memory (heap, stacks, native allocations), without the file pages it maps
 * (its binary, and LevelDB's tables, which LevelDB reads through mmap: read
 * pages count in VmRSS, as page cache the kernel may drop). 0 once it is gone.
 */
export function anonMb(pid: number): number {
  return statusMb(statusOf(pid), 'RssAnon')
}

function statusMb(status: string, field: string): number {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]
  return Number(kb ?? 0) / 1024
}

export interface RssSeries {
  /** Seconds since the start of sampling, one per sample. */
  atS: number[]
  /** MB per process name, one per sample. */
  mb: Record<string, number[]>
  /** The anonymous part (anonMb), likewise. */
  anonMb: Record<string, number[]>
}

export interface RssGrowth {
  /** The peak while warming up (the first `warmupS` seconds). */
  warmPeakMb: number
  /** The peak over the whole run. */
  peakMb: number
  /** (peak − warm-up peak) / warm-up peak: 0.1 is 10% growth after warming up. */
  growth: number
}

/**
 * Samples the RSS of a set of processes every `everyMs`, so that a sustained
 * run shows whether memory stays flat, not only how high it peaked.
 */
export class RssSampler {
  private readonly series: RssSeries = { atS: [], mb: {}, anonMb: {} }
  private readonly timer: NodeJS.Timeout
  private readonly started = Date.now()

  constructor(private readonly pids: Record<string, number>, everyMs = 1000) {
    for (const name of Object.keys(pids)) {
      this.series.mb[name] = []
      this.series.anonMb[name] = []
    }
    this.sample()
    this.timer = setInterval(() => { this.sample() }, everyMs)
  }

  stop(): RssSeries {
    clearInterval(this.timer)
    this.sample()
    return this.series
  }

  private sample(): void {
    this.series.atS.push((Date.now() - this.started) / 1000)
    for (const [name, pid] of Object.entries(this.pids)) {
      // One read of the status for both, so that the anonymous part is a part of the same sample.
      const status = statusOf(pid)
      this.series.mb[name]!.push(vmRssMb(status))
      this.series.anonMb[name]!.push(statusMb(status, 'RssAnon'))
    }
  }
}

/** Per process: the peak after `warmupS` seconds against the peak before. */
export function rssGrowth(series: RssSeries, warmupS: number): Record<string, RssGrowth> {
  const out: Record<string, RssGrowth> = {}
  for (const [name, values] of Object.entries(series.mb)) {
    const warm = values.filter((_, i) => series.atS[i]! <= warmupS)
    const warmPeakMb = Math.max(0, ...warm)
    const peakMb = Math.max(0, ...values)
    out[name] = { warmPeakMb, peakMb, growth: warmPeakMb === 0 ? 0 : (peakMb - warmPeakMb) / warmPeakMb }
  }
  return out
}
