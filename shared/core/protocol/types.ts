import type { AbortReasonCode } from '../abort-reasons.ts'

/** One write of a transaction, with its optional precondition. */
export interface Write {
  key: string
  value: string
  /** The key's committed version must be exactly this (0 = absent). */
  ifVersion?: number
  /** The key must have no committed value. */
  ifAbsent?: boolean
}

/** Why a transaction aborted: which participant, and a catalogue code. */
export interface AbortReason {
  participant: string
  code: AbortReasonCode
  key?: string
  message: string
}

export type Outcome = 'committed' | 'aborted'

/** Key → the version the transaction gives it (a Map: keys are user input, see keyed-object.ts). */
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
