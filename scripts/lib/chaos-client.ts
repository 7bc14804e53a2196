import type { ChaosEvent, ClusterNode, Fault, FaultKind, NodeRole } from '../../services/chaos/faults.ts'
import type { HealAllResult } from '../../services/chaos/engine.ts'
import type { ScheduleStatus } from '../../services/chaos/random-schedule.ts'
import type { ScheduleOptions } from '../../services/chaos/schedule.ts'
import { authHeaders } from './credentials.ts'

/** An HTTP client of the chaos API, the same for the compose sidecar and the local cluster's in-process one (ADMIN_TOKEN from the environment, if set). */
export class ChaosClient {
  constructor(readonly url: string, private readonly headers: Record<string, string> = authHeaders('admin')) {}

  async nodes(): Promise<ClusterNode[]> {
    return (await this.call<{ nodes: ClusterNode[] }>('GET', '/v1/nodes')).nodes
  }

  async inject(request: { kind: FaultKind; node?: string; role?: NodeRole; durationMs?: number; permanent?: boolean }): Promise<Fault> {
    return this.call<Fault>('POST', '/v1/faults', request)
  }

  async faults(): Promise<{ active: Fault[]; schedule: ScheduleStatus }> {
    return this.call('GET', '/v1/faults')
  }

  async heal(id: string): Promise<Fault> {
    return (await this.call<{ healed: Fault }>('DELETE', `/v1/faults/${encodeURIComponent(id)}`)).healed
  }

  /** A partial heal answers 502 with what failed: the caller reads `failed`. Kills for good stay down (`kept`) unless `permanentToo`. */
  async healAll(permanentToo = false): Promise<HealAllResult> {
    return this.call('POST', `/v1/heal${permanentToo ? '?all=true' : ''}`, undefined, [502])
  }

  async events(): Promise<ChaosEvent[]> {
    return (await this.call<{ events: ChaosEvent[] }>('GET', '/v1/events')).events
  }

  async startSchedule(options: ScheduleOptions): Promise<ScheduleStatus> {
    const { intervalMs, durationMs, ...rest } = options
    return this.call('PUT', '/v1/schedule', { ...rest, intervalMs: { min: intervalMs[0], max: intervalMs[1] }, durationMs: { min: durationMs[0], max: durationMs[1] } })
  }

  async stopSchedule(): Promise<ScheduleStatus> {
    return this.call('DELETE', '/v1/schedule')
  }

  private async call<T>(method: string, path: string, body?: unknown, alsoOk: number[] = []): Promise<T> {
    let res: Response
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(60000),
      })
    } catch (err) {
      throw new Error(`chaos API at ${this.url} unreachable (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); is the cluster up?`)
    }
    const answer = (await res.json()) as T & { error?: string; message?: string }
    if (!res.ok && !alsoOk.includes(res.status)) throw new Error(`${answer.error ?? res.status}: ${answer.message ?? ''}`)
    return answer
  }
}
