import { pino, type Logger } from 'pino'
import type { LogEffect } from '../../core/protocol/effects.ts'

export type { Logger }

export function createLogger(node: string, level: string): Logger {
  return pino({ level, base: { node, pid: process.pid } })
}

/** Performs a state machine's log effect: fields (txId first) become JSON fields. */
export function logEffect(logger: Logger, effect: LogEffect): void {
  const { type: _type, level, msg, ...fields } = effect
  logger[level](fields, msg)
}
