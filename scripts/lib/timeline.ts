import { median } from './stats.ts'

/** One timeline mark of one node: when (monotonic ns) and what (see shared/io/runtime/marks.ts). */
export interface Mark {
  at: bigint
  label: string
}

/** A client's transaction at concurrency 1: sent at `start`, its answer read at `end` (monotonic ns). */
export interface Window {
  start: bigint
  end: bigint
}

export interface TimelineRow {
  /** `coordinator`, or a participant by the order in which it heard of the transaction (`participant 1st`…). */
  who: string
  /** The mark's label, with its occurrence within the transaction when it repeats (`recv vote #2`). */
  what: string
  /** Median time since the client sent the request, in ms. */
  atMs: number
  /** In how many of the transactions the mark appeared. */
  seen: number
}

/** Parses a marks file: one `<ns> <label>` per line. */
export function parseMarks(text: string): Mark[] {
  const marks: Mark[] = []
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ')
    if (space > 0) marks.push({ at: BigInt(line.slice(0, space)), label: line.slice(space + 1) })
  }
  return marks.sort((a, b) => Number(a.at - b.at))
}

const ORDINALS = ['1st', '2nd', '3rd']
const ordinal = (i: number): string => ORDINALS[i] ?? `${i + 1}th`

export interface TimelineOptions {
  /** Participants are ranked by the time of their first mark with this label (e.g. `recv prepare`). */
  rankBy: string
  /**
   * The coordinator's mark that starts the transaction (e.g. `http request`): marks of any node
   * before it belong to the previous transaction's tail (its COMMITs go out after its reply) and
   * are left out.
   */
  startAt: string
  /** Rows seen in fewer than this share of the windows are left out (0.5). */
  minShare?: number
}

/**
 * The median timeline of sequential transactions: for each client window,
 * every node's marks inside it, as offsets from the client's send. Marks
 * repeat within a transaction (three votes reach the coordinator), so each
 * occurrence is its own row. Participants are named by the order of their
 * first `rankBy` mark (those without one come last), not by name: "the last
 * participant to sync" is what the critical path waits for, whichever it is.
 */
export function timeline(windows: Window[], coordinator: Mark[], participants: Mark[][], options: TimelineOptions): TimelineRow[] {
  const { rankBy, startAt, minShare = 0.5 } = options
  const offsets = new Map<string, { who: string; what: string; values: number[] }>()
  const add = (who: string, what: string, ms: number): void => {
    const key = `${who}\u0000${what}`
    const entry = offsets.get(key) ?? { who, what, values: [] }
    entry.values.push(ms)
    offsets.set(key, entry)
  }
  const cursors = new Array<number>(participants.length + 1).fill(0)
  const nodes = [coordinator, ...participants]
  for (const w of windows) {
    const inWindow = nodes.map((marks, n) => within(marks, w, cursors, n))
    const started = inWindow[0]!.find((m) => m.label === startAt)?.at ?? w.start
    const own = inWindow.map((marks) => marks.filter((m) => m.at >= started))
    const rankOf = (marks: Mark[]): bigint => marks.find((m) => m.label === rankBy)?.at ?? w.end + 1n
    const ranked = own.slice(1).filter((m) => m.length > 0).sort((a, b) => Number(rankOf(a) - rankOf(b)))
    const named: [string, Mark[]][] = [['coordinator', own[0]!], ...ranked.map((m, i): [string, Mark[]] => [`participant ${ordinal(i)}`, m])]
    for (const [who, marks] of named) {
      const count = new Map<string, number>()
      for (const m of marks) {
        const n = (count.get(m.label) ?? 0) + 1
        count.set(m.label, n)
        add(who, n === 1 ? m.label : `${m.label} #${n}`, Number(m.at - w.start) / 1e6)
      }
    }
    add('client', 'answer read', Number(w.end - w.start) / 1e6)
  }
  return [...offsets.values()]
    .filter((e) => e.values.length >= windows.length * minShare)
    .map((e) => ({ who: e.who, what: e.what, atMs: median(e.values), seen: e.values.length }))
    .sort((a, b) => a.atMs - b.atMs)
}

/** The marks of one node inside a window; windows come in time order, so a cursor per node suffices. */
function within(marks: Mark[], w: Window, cursors: number[], n: number): Mark[] {
  let i = cursors[n]!
  while (i < marks.length && marks[i]!.at < w.start) i++
  const out: Mark[] = []
  while (i < marks.length && marks[i]!.at <= w.end) out.push(marks[i++]!)
  cursors[n] = i
  return out
}
