import { buildFlow, type Flow, type NodeTrace } from '../../shared/io/trace/flow.ts'
import type { TraceEvent } from '../../shared/io/trace/trace-ring.ts'
import { monotonicUs } from '../../shared/io/trace/trace-ring.ts'
import { httpBase, requestJson } from '../../shared/io/http/json-client.ts'
import type { TlsMaterial } from '../../shared/io/runtime/tls.ts'
import type { NamedUrl } from '../../shared/io/runtime/node-list.ts'
import type { CoordinatorDriver } from './driver.ts'

/** How long the coordinator waits for a participant's trace or status before drawing it as unreachable. */
export const GATHER_TIMEOUT_MS = 2000

export interface GatherDeps {
  name: string
  participants: readonly NamedUrl[]
  driver: CoordinatorDriver
  tls?: TlsMaterial | undefined
}

interface RemoteTrace {
  nowUs: number
  events: TraceEvent[]
}

/**
 * A transaction's flow across the cluster: this coordinator's own trace and
 * each participant's, asked for over HTTP with the caller's credentials.
 * Each participant's clock is lined up with this one's from the fetch
 * itself (Cristian's method: its reading is taken to be at the middle of the
 * round trip, give or take half of it). On one machine every process reads
 * the same CLOCK_MONOTONIC, and the estimate is then within its own
 * uncertainty of zero: the clocks are taken as one ('shared-clock'), as
 * bench:path does. Otherwise (containers on other hosts) the estimate is
 * applied ('estimated').
 */
export async function gatherFlow(deps: GatherDeps, txId: string, authorization: string | undefined): Promise<Flow> {
  const own: NodeTrace = { node: deps.name, role: 'coordinator', offsetUs: 0, uncertaintyUs: 0, alignment: 'self', events: deps.driver.trace.get(txId) }
  const remote = await Promise.all(deps.participants.map(async (p) => participantTrace(deps, p, txId, authorization)))
  return buildFlow(txId, [own, ...remote])
}

async function participantTrace(deps: GatherDeps, p: NamedUrl, txId: string, authorization: string | undefined): Promise<NodeTrace> {
  const base = { node: p.name, role: 'participant' as const }
  const sentUs = monotonicUs()
  try {
    const answer = await requestJson(`${httpBase(p.url)}/v1/trace/${encodeURIComponent(txId)}`, { headers: authorization === undefined ? {} : { authorization }, timeoutMs: GATHER_TIMEOUT_MS, tls: deps.tls })
    const receivedUs = monotonicUs()
    if (answer.status !== 200) return { ...base, offsetUs: 0, uncertaintyUs: 0, alignment: 'shared-clock', events: [], error: `answered ${answer.status}${errorCode(answer.body)}` }
    if (!isRemoteTrace(answer.body)) return { ...base, offsetUs: 0, uncertaintyUs: 0, alignment: 'shared-clock', events: [], error: 'its answer is not a trace' }
    const body = answer.body
    const uncertaintyUs = Math.ceil((receivedUs - sentUs) / 2)
    const estimate = Math.round(body.nowUs - (sentUs + receivedUs) / 2)
    const shared = Math.abs(estimate) <= uncertaintyUs
    return { ...base, offsetUs: shared ? 0 : estimate, uncertaintyUs, alignment: shared ? 'shared-clock' : 'estimated', events: body.events }
  } catch (err) {
    return { ...base, offsetUs: 0, uncertaintyUs: 0, alignment: 'shared-clock', events: [], error: (err as Error).message }
  }
}

/** A participant's answer is checked before it is drawn: a bad one is that node's error, never the route's 500 or NaN times. */
function isRemoteTrace(body: unknown): body is RemoteTrace {
  if (typeof body !== 'object' || body === null) return false
  const { nowUs, events } = body as { nowUs?: unknown; events?: unknown }
  return Number.isFinite(nowUs) && Array.isArray(events) && events.every((e: unknown) => {
    if (typeof e !== 'object' || e === null) return false
    const { atUs, kind, msg } = e as { atUs?: unknown; kind?: unknown; msg?: unknown }
    return Number.isFinite(atUs) && typeof kind === 'string' && typeof msg === 'string'
  })
}

/** What the console shows of one participant: health, counters, what is in doubt there. */
export interface ParticipantView {
  name: string
  url: string
  up: boolean
  connected: boolean
  status?: unknown
  inDoubt?: unknown
  error?: string
}

export async function gatherParticipants(deps: GatherDeps, authorization: string | undefined): Promise<ParticipantView[]> {
  const connected = new Set(deps.driver.machine.status().connected)
  return Promise.all(
    deps.participants.map(async (p) => {
      const view = { name: p.name, url: httpBase(p.url), connected: connected.has(p.name) }
      const options = { headers: authorization === undefined ? {} : { authorization }, timeoutMs: GATHER_TIMEOUT_MS, tls: deps.tls }
      try {
        const [status, inDoubt] = await Promise.all([requestJson(`${view.url}/v1/status`, options), requestJson(`${view.url}/v1/in-doubt`, options)])
        if (status.status !== 200) return { ...view, up: true, error: `answered ${status.status}${errorCode(status.body)}` }
        return { ...view, up: true, status: status.body, inDoubt: inDoubt.body }
      } catch (err) {
        return { ...view, up: false, error: (err as Error).message }
      }
    }),
  )
}

function errorCode(body: unknown): string {
  return typeof body === 'object' && body !== null && 'error' in body ? ` (${String(body.error)})` : ''
}
