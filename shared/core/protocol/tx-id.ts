import { COORDINATOR_NODE } from './messages.ts'

/**
 * Transaction ids name the coordinator that started them, so that any node
 * can tell whose a transaction is from its id alone: a participant sends its
 * vote, ack and queries there, and only that coordinator ever holds a record
 * of it. `<coordinator>:<epoch>.<seq>`, where the epoch is that coordinator's
 * start count and the seq a counter, so ids never repeat across restarts. The
 * single coordinator of a cluster that names none (COORDINATOR_NODE) leaves
 * its name out: `<epoch>.<seq>`.
 */
export function formatTxId(coordinator: string, epoch: number, seq: number): string {
  return coordinator === COORDINATOR_NODE ? `${epoch}.${seq}` : `${coordinator}:${epoch}.${seq}`
}

/** The coordinator that started a transaction. */
export function coordinatorOf(txId: string): string {
  const colon = txId.indexOf(':')
  return colon < 0 ? COORDINATOR_NODE : txId.slice(0, colon)
}

/** The epoch in a transaction id, undefined for an id no coordinator formats. */
export function epochOf(txId: string): number | undefined {
  const local = txId.slice(txId.indexOf(':') + 1)
  const dot = local.indexOf('.')
  const epoch = Number(local.slice(0, dot))
  return dot > 0 && Number.isSafeInteger(epoch) ? epoch : undefined
}

/** A coordinator's name: also a prefix of its transaction ids, so no ':' in it. */
export const COORDINATOR_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/
