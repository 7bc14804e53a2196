import type { LoadResult } from './load.ts'
import { median } from './stats.ts'

/** One round's figures of a row that a run measured several times (`npm run bench -- --rounds N`). */
export interface RoundFigures {
  committedPerS: number
  p50Ms: number
  p99Ms: number
}

/**
 * Rows measured in several rounds, one per round for each key (protocol,
 * participants, keys, concurrency…), made into one row per key: its
 * commits/s, p50 and p99 are the medians of the rounds' (each taken on its
 * own), and every other figure (CPU, fsyncs, RSS) is that of the round whose
 * commits/s is the median. Medians, because this machine's speed drifts by up
 * to 2× within an hour: one slow round should not decide a ratio. Keys keep
 * the order in which they were first measured; each row lists its rounds.
 */
export function medianOfRounds<T extends LoadResult>(rows: readonly T[], keyOf: (row: T) => string): (T & { rounds: RoundFigures[] })[] {
  const groups = new Map<string, T[]>()
  for (const row of rows) {
    const key = keyOf(row)
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return [...groups.values()].map((group) => {
    const byThroughput = [...group].sort((a, b) => a.committedPerS - b.committedPerS)
    const middle = byThroughput[Math.floor(byThroughput.length / 2)]!
    return {
      ...middle,
      committedPerS: median(group.map((r) => r.committedPerS)),
      p50Ms: median(group.map((r) => r.p50Ms)),
      p99Ms: median(group.map((r) => r.p99Ms)),
      rounds: group.map((r) => ({ committedPerS: r.committedPerS, p50Ms: r.p50Ms, p99Ms: r.p99Ms })),
    }
  })
}
