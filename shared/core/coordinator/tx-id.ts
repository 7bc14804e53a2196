/** Transaction ids are `<epoch>.<seq>`: the coordinator's start count, then a counter, so they never repeat across restarts. */
export function formatTxId(epoch: number, seq: number): string {
  return `${epoch}.${seq}`
}

export function epochOf(txId: string): number | undefined {
  const dot = txId.indexOf('.')
  const epoch = Number(txId.slice(0, dot))
  return dot > 0 && Number.isSafeInteger(epoch) ? epoch : undefined
}
