import { createInterface } from 'node:readline'
import { Writable, type Readable } from 'node:stream'
import { prettyFactory } from 'pino-pretty'

/**
 * Readable logs for a person at a terminal (`npm start` on a TTY): each JSON
 * line a node writes becomes one pino-pretty line, with the node's name in
 * front of its message. Whole lines only, so that nodes writing at once never
 * cut into each other's lines; a line that is not JSON (a failpoint's) passes
 * as it is.
 */
export function prettyLines(colorize: boolean): (line: string) => string {
  const pretty = prettyFactory({ colorize, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,node', messageFormat: '[{node}] {msg}' })
  return (line) => (line.startsWith('{') ? pretty(line) : `${line}\n`)
}

/** Copies a node's output to `out`, prettified line by line. */
export function pipePretty(from: Readable, out: Writable, format: (line: string) => string): void {
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => { out.write(format(line)) })
}

/** A destination for this process's own pino logger (one JSON line per write) that prettifies as the nodes' lines are. */
export function prettyDestination(out: Writable, format: (line: string) => string): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') out.write(format(line))
      done()
    },
  })
}
