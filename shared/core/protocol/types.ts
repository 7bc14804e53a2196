import type { AbortReasonCode } from '../abort-reasons.ts'

/** A write's optional precondition, checked by every participant at PREPARE. */
export interface Precondition {
  /** The key's committed version must be exactly this (0 = absent: never written, or deleted). */
  ifVersion?: number
  /** The key must have no committed value (never written, or deleted). */
  ifAbsent?: boolean
}

/** Sets a key's value: its version goes up by one (a key created afresh starts above its bucket's floor, see version-floor.ts). */
export interface PutWrite extends Precondition {
  key: string
  value: string
}

/** Removes a key: it gets a version like any write, at which it is absent; reads answer not found, `ifAbsent` holds, and its next life's versions start above. */
export interface DeleteWrite extends Precondition {
  key: string
  delete: true
}

/** One write of a transaction, with its optional precondition. */
export type Write = PutWrite | DeleteWrite

export function isDelete(write: Write): write is DeleteWrite {
  return 'delete' in write
}

/** Why a transaction aborted: which participant, and a catalogue code. */
export interface AbortReason {
  participant: string
  code: AbortReasonCode
  key?: string
  message: string
}

export type Outcome = 'committed' | 'aborted'

/** Key → the version the transaction gives it, a delete included (a Map: keys are user input, see keyed-object.ts). */
export type Versions = Map<string, number>

/** The same as a JSON object without a prototype: on the wire, on disk and in HTTP answers. */
export type VersionsObject = Record<string, number>

/** A committed value as a participant stores it. */
export interface Entry {
  value: string
  version: number
}


/** Omit that distributes over a union (drops `now` from each event variant). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never
