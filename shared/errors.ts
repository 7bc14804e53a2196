/**
 * The one catalogue of error codes, shared by HTTP answers, WebSocket refusals
 * and abort reasons. Codes are stable: clients and operators match on them.
 * A test checks that codes are unique and that the README documents each.
 */
export interface ErrorSpec {
  readonly statusCode: number
  readonly message: string
}

export const errors = {
  // HTTP request errors
  bad_request: { statusCode: 400, message: 'The request does not match the schema' },
  invalid_json: { statusCode: 400, message: 'The body is not valid JSON' },
  duplicate_key: { statusCode: 400, message: 'A key appears more than once in one transaction' },
  invalid_precondition: { statusCode: 400, message: 'A write may not carry both ifVersion and ifAbsent' },
  unsupported_media_type: { statusCode: 415, message: 'The body must be application/json' },
  payload_too_large: { statusCode: 413, message: 'The body is larger than the configured limit' },
  not_found: { statusCode: 404, message: 'No such route' },
  unknown_transaction: { statusCode: 404, message: 'No transaction with this id is known (never seen, or past retention)' },
  key_not_found: { statusCode: 404, message: 'The key has no committed value' },
  id_conflict: { statusCode: 409, message: 'This client id was already used for a different transaction' },
  overloaded: { statusCode: 503, message: 'Too many transactions in flight; retry later' },
  key_in_doubt: { statusCode: 503, message: 'The key is held by a transaction whose outcome is not yet known; retry later' },
  no_replica: { statusCode: 503, message: 'No participant is connected to serve the read' },
  unauthorized: { statusCode: 401, message: 'Missing or wrong cluster token' },
  peer_busy: { statusCode: 409, message: 'A healthy coordinator link is in place; a second one is refused' },
  internal: { statusCode: 500, message: 'Internal error' },
  // Chaos sidecar (services/chaos)
  unknown_node: { statusCode: 404, message: 'No node of the cluster has this name' },
  unknown_fault: { statusCode: 404, message: 'No active fault has this id' },
  node_busy: { statusCode: 409, message: 'The node already has an active fault; heal it first' },
  no_candidate: { statusCode: 409, message: 'No node of the requested role is free for a fault' },
  fault_failed: { statusCode: 502, message: 'The container engine or process refused the fault action' },
  // WebSocket frame errors (logged, frame refused)
  bad_frame: { statusCode: 400, message: 'The WebSocket frame is not a valid protocol message' },
  // Abort reasons (appear in `reasons` of an aborted outcome)
  conflict: { statusCode: 200, message: 'A key is held by another prepared transaction' },
  precondition_failed: { statusCode: 200, message: 'A precondition (ifVersion / ifAbsent) does not hold' },
  vote_timeout: { statusCode: 200, message: 'The participant did not vote in time' },
  participant_unavailable: { statusCode: 200, message: 'The participant was not connected when the transaction started' },
  participant_disconnected: { statusCode: 200, message: 'The connection to the participant was lost before it voted' },
  aborted_by_query: { statusCode: 200, message: 'A participant asked for the outcome before all votes were in; presumed abort' },
  coordinator_restarted: { statusCode: 200, message: 'The coordinator restarted before deciding; presumed abort' },
  already_resolved: { statusCode: 200, message: 'The participant had already resolved this transaction' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errors

/** The JSON body of every HTTP error answer. */
export interface ErrorBody {
  error: ErrorCode
  message: string
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: code, message: message ?? errors[code].message }
}

/** An error that carries a catalogue code; thrown by adapters, mapped to HTTP by the error handler. */
export class CodedError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  constructor(code: ErrorCode, message?: string) {
    super(message ?? errors[code].message)
    this.code = code
    this.statusCode = errors[code].statusCode
  }
}
