import { appendFileSync } from 'node:fs'

/**
 * Timeline marks: where a transaction's time goes between processes, which a
 * CPU profile cannot show (at concurrency 1 the nodes mostly wait: for a
 * sync, for a peer, for a core). Off unless TXN_MARKS names a file; then each
 * mark is a line `<monotonic ns> <label>` (CLOCK_MONOTONIC is the same clock
 * in every process of a machine, so marks of different nodes line up), kept
 * in memory and appended to the file every `flushEvery` marks and at exit.
 * `npm run bench:path` turns them into a timeline. Off, a mark costs one
 * branch.
 */
export class Marks {
  private buffer: string[] = []
  private readonly file: string | undefined

  /** `file` unset or empty: off. */
  constructor(
    file: string | undefined,
    private readonly flushEvery = 1000,
  ) {
    this.file = file === '' ? undefined : file
    if (this.file !== undefined) process.on('exit', this.flush)
  }

  get enabled(): boolean {
    return this.file !== undefined
  }

  mark(label: string): void {
    if (this.file === undefined) return
    this.buffer.push(`${process.hrtime.bigint()} ${label}`)
    if (this.buffer.length >= this.flushEvery) this.flush()
  }

  /** A frame sent or received, named by its distinct message types (`recv ack+vote`); nothing is computed when off. */
  frame(direction: 'send' | 'recv', messages: readonly { type: string }[]): void {
    if (this.file === undefined) return
    this.mark(`${direction} ${[...new Set(messages.map((m) => m.type))].join('+')}`)
  }

  /** Appends what is buffered to the file (bound: it is also the process's exit hook). */
  readonly flush = (): void => {
    if (this.file === undefined || this.buffer.length === 0) return
    appendFileSync(this.file, `${this.buffer.join('\n')}\n`)
    this.buffer = []
  }
}

/** The process's marks (see Marks). */
export const marks = new Marks(process.env.TXN_MARKS)
