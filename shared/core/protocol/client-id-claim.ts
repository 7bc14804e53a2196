/**
 * A client id's claim: a reserved key, written `ifAbsent` in the same
 * transaction as the client's writes, whose value names the transaction and
 * the digest of its writes.
 *
 * A coordinator remembers the client ids of its own transactions only, and
 * only for its retention. The claim is in every replica instead, put there by
 * the commit protocol itself: it exists exactly when a transaction with that
 * id committed. So a retry sent to any coordinator, at any time, cannot apply
 * its writes twice:
 * - a committed first attempt left the claim, and the retry's `ifAbsent`
 *   fails at every participant, which reports the claim's value;
 * - a first attempt still prepared holds the claim's lock, and the retry
 *   conflicts on it;
 * - an aborted first attempt left nothing, and the retry runs afresh (which
 *   is exactly once).
 * A participant checks the claim before the client's own keys, so that the
 * retry's answer is about the id, not about another transaction's lock.
 */

/** Clients may neither write nor read a key under it (`\u0000` cannot start a key a client would choose by accident). */
export const RESERVED_KEY_PREFIX = '\u0000'

const CLAIM_PREFIX = `${RESERVED_KEY_PREFIX}client-id/`

export interface ClientIdClaim {
  /** The transaction that claimed the id. */
  txId: string
  /** writesDigest of its client writes (the claim's own write left out). */
  digest: string
}

export function isReservedKey(key: string): boolean {
  return key.startsWith(RESERVED_KEY_PREFIX)
}

export function claimKey(clientId: string): string {
  return `${CLAIM_PREFIX}${clientId}`
}

export function isClaimKey(key: string): boolean {
  return key.startsWith(CLAIM_PREFIX)
}

export function claimValue(claim: ClientIdClaim): string {
  return JSON.stringify([claim.txId, claim.digest])
}

/** The claim a stored value holds, or undefined if it holds none (never written by a coordinator). */
export function parseClaim(value: string): ClientIdClaim | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') return undefined
  return { txId: parsed[0], digest: parsed[1] }
}
