/**
 * The catalogue of API errors: HTTP answers (client API, inspection API,
 * chaos API) and WebSocket refusals. Codes are stable: clients and operators
 * match on them. Why a transaction aborted is another catalogue
 * (abort-reasons.ts): an outcome of the protocol, not an error of the API. A
 * test checks that no code is in both and that the README documents each.
 */
export interface ErrorSpec {
  readonly statusCode: number
  readonly message: string
}

export const apiErrors = {
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
  id_in_doubt: { statusCode: 503, message: 'A transaction with this client id is still being decided; retry later' },
  overloaded: { statusCode: 503, message: 'Too many transactions in flight; retry later' },
  txn_in_doubt: { statusCode: 503, message: 'The transaction is prepared at some participant and its outcome is not known there yet; retry later' },
  key_in_doubt: { statusCode: 503, message: 'The key is held by a transaction whose outcome is not yet known; retry later' },
  no_replica: { statusCode: 503, message: 'No participant is connected to serve the read' },
  unauthorized: { statusCode: 401, message: 'Missing or wrong token (a bearer token over HTTP, the cluster token on a peer link)' },
  forbidden: { statusCode: 403, message: 'The token is known but its scope does not allow this request' },
  peer_busy: { statusCode: 409, message: 'A healthy coordinator link is in place; a second one is refused' },
  replica_not_admitted: { statusCode: 503, message: 'This participant\'s replica is new and no coordinator has admitted it yet: it takes no acceptor link' },
  replica_busy: { statusCode: 503, message: 'A transaction stayed prepared here for the whole wait: no consistent copy of the replica to export; retry later' },
  internal: { statusCode: 500, message: 'Internal error' },
  // The console's gathering (services/coordinator/console-routes.ts)
  no_chaos_api: { statusCode: 503, message: 'No chaos API is configured here (CHAOS_URL)' },
  chaos_unreachable: { statusCode: 502, message: 'The chaos API did not answer' },
  // Chaos sidecar (services/chaos)
  unknown_node: { statusCode: 404, message: 'No node of the cluster has this name' },
  unknown_fault: { statusCode: 404, message: 'No active fault has this id' },
  node_busy: { statusCode: 409, message: 'The node already has an active fault; heal it first' },
  no_candidate: { statusCode: 409, message: 'No node of the requested role is free for a fault' },
  fault_failed: { statusCode: 502, message: 'The container engine or process refused the fault action' },
  // WebSocket frame errors (logged, frame refused)
  bad_frame: { statusCode: 400, message: 'The WebSocket frame is not a valid protocol message' },
  frame_too_large: { statusCode: 400, message: 'The WebSocket frame is over the size limit; ws closes the connection (1009)' },
} as const satisfies Record<string, ErrorSpec>

export type ApiErrorCode = keyof typeof apiErrors

/** The JSON body of every HTTP error answer. */
export interface ErrorBody {
  error: ApiErrorCode
  message: string
}

export function errorBody(code: ApiErrorCode, message?: string): ErrorBody {
  return { error: code, message: message ?? apiErrors[code].message }
}

/** An error that carries a catalogue code; thrown by adapters, mapped to HTTP by the error handler. */
export class CodedError extends Error {
  readonly code: ApiErrorCode
  readonly statusCode: number
  constructor(code: ApiErrorCode, message?: string) {
    super(message ?? apiErrors[code].message)
    this.code = code
    this.statusCode = apiErrors[code].statusCode
  }
}
