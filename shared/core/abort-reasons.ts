/**
 * Why a transaction aborted: the codes of `reasons` in an aborted outcome
 * (HTTP 200: an abort is an answer, not an error). Stable, like the API
 * error codes (api-errors.ts), and never the same as one of them.
 */
export interface AbortReasonSpec {
  readonly message: string
}

export const abortReasons = {
  conflict: { message: 'A key is held by another prepared transaction' },
  precondition_failed: { message: 'A precondition (ifVersion / ifAbsent) does not hold' },
  vote_timeout: { message: 'The participant did not vote in time' },
  participant_unavailable: { message: 'The participant was not connected when the transaction started' },
  participant_disconnected: { message: 'The connection to the participant was lost before it voted' },
  aborted_by_query: { message: 'A participant asked for the outcome before all votes were in; presumed abort' },
  coordinator_restarted: { message: 'The coordinator restarted before deciding; presumed abort' },
  already_resolved: { message: 'The participant had already resolved this transaction' },
} as const satisfies Record<string, AbortReasonSpec>

export type AbortReasonCode = keyof typeof abortReasons
