import { Prng } from '../../shared/core/prng.ts'
import { faultKinds, nodeRoles, type ClusterNode, type FaultKind, type NodeRole } from './faults.ts'

export interface ScheduleOptions {
  seed: number
  /** Wait between two fault decisions, drawn in [min, max] ms. */
  intervalMs: [number, number]
  /** How long each fault lasts, drawn in [min, max] ms. */
  durationMs: [number, number]
  /** Relative weights of the fault kinds; a kind with weight 0 never happens. */
  mix: Record<FaultKind, number>
  /** Which roles may be hit. */
  roles: NodeRole[]
  /** At most this many nodes under a fault at once (a node killed for good counts). */
  maxDown: number
  /** One node killed for good this long after the schedule starts (besides the random faults). */
  killForGood?: KillForGood
}

export interface KillForGood {
  node: string
  afterMs: number
}

export interface PlannedFault {
  kind: FaultKind
  node: string
  durationMs: number
}

/**
 * The next fault of a seeded schedule, or none when `maxDown` nodes are
 * already under a fault or no node of an allowed role is free. Pure: the same
 * PRNG state, nodes and busy set give the same choice.
 */
export function planFault(prng: Prng, options: ScheduleOptions, nodes: readonly ClusterNode[], busy: ReadonlySet<string>): PlannedFault | undefined {
  const kind = pickWeighted(prng, options.mix)
  const durationMs = prng.int(...options.durationMs)
  const candidates = nodes.filter((n) => options.roles.includes(n.role) && !busy.has(n.name)).sort((a, b) => a.name.localeCompare(b.name))
  if (busy.size >= options.maxDown || candidates.length === 0) return undefined
  return { kind, node: prng.pick(candidates).name, durationMs }
}

function pickWeighted(prng: Prng, mix: Record<FaultKind, number>): FaultKind {
  const total = faultKinds.reduce((sum, k) => sum + mix[k], 0)
  let x = prng.next() * total
  for (const kind of faultKinds) {
    x -= mix[kind]
    if (x < 0) return kind
  }
  /* c8 ignore next -- only reached through floating-point rounding at the top of the range */
  return faultKinds.findLast((k) => mix[k] > 0) ?? 'kill'
}

/** Parses `kill=2,pause=1,partition=1` (kinds left out weigh 0). */
export function parseMix(text: string): Record<FaultKind, number> {
  const mix: Record<FaultKind, number> = { kill: 0, pause: 0, partition: 0 }
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [kind, weight = '1'] = part.split('=')
    if (!faultKinds.includes(kind as FaultKind)) throw new Error(`unknown fault kind "${kind}" (kinds: ${faultKinds.join(', ')})`)
    const w = Number(weight)
    if (!Number.isFinite(w) || w < 0) throw new Error(`bad weight "${weight}" for ${kind}`)
    mix[kind as FaultKind] = w
  }
  if (faultKinds.every((k) => mix[k] === 0)) throw new Error('the fault mix gives every kind weight 0')
  return mix
}

/** Parses `2000-6000` (or a single `3000`) into [min, max]. */
export function parseRange(text: string): [number, number] {
  const [low = '', high = low] = text.split('-')
  const range: [number, number] = [Number(low), Number(high)]
  if (!range.every((n) => Number.isInteger(n) && n >= 0) || range[0] > range[1]) throw new Error(`bad range "${text}" (want min-max in ms)`)
  return range
}

export function parseRoles(text: string): NodeRole[] {
  const roles = text.split(',').map((r) => r.trim()).filter(Boolean)
  for (const r of roles) if (!nodeRoles.includes(r as NodeRole)) throw new Error(`unknown role "${r}" (roles: ${nodeRoles.join(', ')})`)
  if (roles.length === 0) throw new Error('no role may be hit')
  return roles as NodeRole[]
}

/** Parses `c1@20000`: kill c1 for good 20 s after the schedule starts. */
export function parseKillForGood(text: string): KillForGood {
  const match = /^([A-Za-z0-9_-]{1,128})@(\d{1,9})$/.exec(text.trim())
  if (!match) throw new Error(`bad kill-for-good "${text}" (want node@ms, e.g. c1@20000)`)
  return { node: match[1]!, afterMs: Number(match[2]) }
}
