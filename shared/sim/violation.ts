/**
 * The one vocabulary for a broken guarantee, shared by the simulator's
 * invariants and the checker of real runs (scripts/lib/checker.ts): a
 * kebab-case code that names the guarantee, and what was seen.
 */
export interface Violation {
  code: string
  detail: string
  /** The client operation that shows it (real runs). */
  op?: number
  key?: string
}
