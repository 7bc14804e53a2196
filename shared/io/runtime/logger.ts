import { pino, type Logger } from 'pino'
import type { LogEffect } from '../../core/protocol/effects.ts'

export type { Logger }

/** A node's JSON logger, to stdout unless given a destination (npm start's pretty terminal output). */
export function createLogger(node: string, level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { node, pid: process.pid } }
  return destination === undefined ? pino(options) : pino(options, destination)
}

/** Performs a state machine's log effect: fields (txId first) become JSON fields. */
export function logEffect(logger: Logger, effect: LogEffect): void {
  const { type: _type, level, msg, ...fields } = effect
  logger[level](fields, msg)
}
