import { Prng } from '../../shared/core/prng.ts'
import type { HistoryEvent, HistoryWrite, Outcome } from './history.ts'
import { authHeaders } from './credentials.ts'

export interface WorkloadOptions {
  /**
   * The coordinators' base URLs. Client i starts at the (i mod K)th; a client
   * cut off retries at the next one, with the same id.
   */
  urls: readonly string[]
  seed: number
  /** Keys and ids carry this tag, so that runs on a long-lived cluster never mix. */
  tag: string
  clients: number
  /** Keys are drawn from `<tag>-k0 … k<keys-1>`: few keys, many conflicts. */
  keys: number
  keysPerTxn: [number, number]
  /** Share of transactions that carry a precondition (ifVersion from the last version seen, or ifAbsent). */
  preconditionRate: number
  /** Share of writes that delete their key instead of putting a value (default 0). */
  deleteRate?: number
  thinkMs: [number, number]
  /** A new operation starts only while this is true. */
  keepGoing: () => boolean
  /** Attempts of one operation (cut-offs and 503s) before the client leaves it to the status API. */
  maxAttempts: number
  requestTimeoutMs: number
  /** The history's time origin (ms since the epoch). */
  startedAt: number
  onEvent?: (event: HistoryEvent) => void
}

type Answer =
  | { kind: 'outcome'; body: { txId: string; outcome: 'committed' | 'aborted'; versions?: Record<string, number>; reasons?: { code: string }[] } }
  | { kind: 'rejected'; status: number; code: string }
  | { kind: 'cut'; error: string }

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

/**
 * Concurrent clients send multi-key transactions on overlapping keys with
 * unique values, some with preconditions, and retry with the same id after a
 * cut-off (at the next coordinator, when there are several), recording every
 * invoke and result as a history. An operation is a pure function of
 * (seed, n), whichever client runs it.
 */
export async function runWorkload(o: WorkloadOptions): Promise<HistoryEvent[]> {
  const history: HistoryEvent[] = []
  const now = (): number => Date.now() - o.startedAt
  const record = (e: HistoryEvent): void => {
    history.push(e)
    o.onEvent?.(e)
  }
  const lastVersion = new Map<string, number>()
  let next = 0

  const client = async (client: number): Promise<void> => {
    let at = client % o.urls.length
    while (o.keepGoing()) {
      const n = next++
      const p = new Prng((o.seed * 7919 + n * 104729) >>> 0)
      const writes = pickWrites(p, o, n, lastVersion)
      const id = `${o.tag}-op${n}`
      record({ type: 'invoke', t: now(), n, client, id, writes })
      for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
        const a = await send(o.urls[at]!, writes, id, o.requestTimeoutMs)
        if (a.kind === 'outcome') {
          const { body } = a
          if (body.outcome === 'committed') {
            for (const [key, version] of Object.entries(body.versions ?? {})) lastVersion.set(key, Math.max(version, lastVersion.get(key) ?? 0))
            // A deleted key is absent: a precondition on it next says ifVersion 0.
            for (const w of writes) if ('delete' in w) lastVersion.set(w.key, 0)
            // A retry answered from the id's claim at another coordinator names the first transaction but not its versions.
            record({ type: 'ok', t: now(), n, txId: body.txId, ...(body.versions ? { versions: body.versions } : {}), attempts: attempt, coordinator: at })
          } else {
            const reason = body.reasons?.[0]?.code ?? 'unstated'
            record({ type: 'fail', t: now(), n, txId: body.txId, reason, attempts: attempt })
            // A polite client backs off while a node is unreachable instead of spinning on instant aborts.
            if (reason === 'participant_unavailable' || reason === 'participant_disconnected') await sleep(100)
          }
          break
        }
        if (a.kind === 'cut') {
          record({ type: 'info', t: now(), n, error: a.error })
          at = (at + 1) % o.urls.length // fail over: the same id at the next coordinator
        } else record({ type: 'rejected', t: now(), n, status: a.status, code: a.code })
        await sleep(Math.min(1000, 50 * attempt)) // the cluster is in trouble: back off
      }
      await sleep(p.int(...o.thinkMs))
    }
  }
  await Promise.all(Array.from({ length: o.clients }, async (_, i) => client(i)))
  return history
}

function pickWrites(p: Prng, o: WorkloadOptions, n: number, lastVersion: ReadonlyMap<string, number>): HistoryWrite[] {
  const keys = new Set<string>()
  const count = p.int(...o.keysPerTxn)
  while (keys.size < Math.min(count, o.keys)) keys.add(`${o.tag}-k${p.int(0, o.keys - 1)}`)
  // The draw for a delete is made only when deletes are asked for, so that a seed's writes stay what they were without.
  const deleteRate = o.deleteRate ?? 0
  const writes: HistoryWrite[] = [...keys].map((key) => (deleteRate > 0 && p.chance(deleteRate) ? { key, delete: true } : { key, value: `${o.tag}-op${n}` }))
  const guarded = writes[0]
  if (guarded && p.chance(o.preconditionRate)) {
    const seen = lastVersion.get(guarded.key)
    if (seen === undefined || seen === 0) guarded.ifAbsent = true
    else guarded.ifVersion = seen
  }
  return writes
}

async function send(url: string, writes: HistoryWrite[], id: string, timeoutMs: number): Promise<Answer> {
  try {
    const res = await fetch(`${url}/v1/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders('client') },
      body: JSON.stringify({ writes, id }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (res.status !== 200) {
      // 503 (overloaded, shutting down): not run now, retried. Anything else is recorded, and the checker fails the run on it.
      const text = await res.text()
      let code = 'unparsed'
      try {
        const error = (JSON.parse(text) as { error?: unknown }).error
        code = typeof error === 'string' ? error : 'no error code'
      } catch {
        // not a catalogue answer: the code says so
      }
      return { kind: 'rejected', status: res.status, code }
    }
    return { kind: 'outcome', body: (await res.json()) as Extract<Answer, { kind: 'outcome' }>['body'] }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code
    return { kind: 'cut', error: cause ?? (err as Error).name }
  }
}

/**
 * After the run, with every node back (but those killed for good): an
 * operation whose client never learned its outcome is looked up by its id
 * through the status API, at each live coordinator in turn until one knows
 * (a coordinator without a record of the id reads the id's claim on the
 * replicas, so a commit is known everywhere). An id that no coordinator
 * knows never started, or aborted (no attempt reached one, or its unsynced
 * start record died in a crash before any decision): either way the checker
 * requires that it left no trace. Still preparing: asked again.
 */
export async function resolveUnknown(urls: readonly string[], history: HistoryEvent[], startedAt: number, timeoutMs = 60000): Promise<HistoryEvent[]> {
  const answered = new Set(history.filter((e) => e.type === 'ok' || e.type === 'fail').map((e) => e.n))
  const open = history.filter((e): e is Extract<HistoryEvent, { type: 'invoke' }> => e.type === 'invoke' && !answered.has(e.n))
  const resolved: HistoryEvent[] = []
  const deadline = Date.now() + timeoutMs
  for (const op of open) {
    for (;;) {
      const answers = await lookUpEverywhere(urls, op.id)
      const t = Date.now() - startedAt
      const known = answers.find((a) => a.body.state === 'committed' || a.body.state === 'aborted')
      if (known) {
        const { body } = known
        const e: Extract<HistoryEvent, { type: 'resolve' }> = { type: 'resolve', t, n: op.n, outcome: body.state as Outcome }
        if (body.txId !== undefined) e.txId = body.txId
        if (body.versions) e.versions = body.versions
        const reason = body.reasons?.[0]?.code
        if (reason !== undefined) e.reason = reason
        resolved.push(e)
        break
      }
      if (answers.length === urls.length && answers.every((a) => a.status === 404)) {
        resolved.push({ type: 'resolve', t, n: op.n, outcome: 'never-started' })
        break
      }
      if (Date.now() > deadline) break // left unknown: the checker reports it
      await sleep(200)
    }
  }
  return resolved
}

interface Lookup {
  status: number
  body: { state?: string; txId?: string; versions?: Record<string, number>; reasons?: { code: string }[] }
}

/** The id's status at every coordinator that answers (one that does not is left out). */
async function lookUpEverywhere(urls: readonly string[], id: string): Promise<Lookup[]> {
  const answers: Lookup[] = []
  for (const url of urls) {
    try {
      const res = await fetch(`${url}/v1/transactions?id=${encodeURIComponent(id)}`, { headers: authHeaders('client'), signal: AbortSignal.timeout(10000) })
      answers.push({ status: res.status, body: (await res.json()) as Lookup['body'] })
    } catch {
      // cut off: this coordinator has no say this round
    }
  }
  return answers
}
