/**
 * A broken invariant is a bug in this node, not bad input: it stops the node
 * with a message that says what broke (TigerBeetle's assert), instead of a
 * log line that lets it carry on in a state nobody designed. Input from peers
 * and clients is never checked with this: it is refused with a typed error.
 */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation'
}

export function invariant(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new InvariantViolation(message())
}
