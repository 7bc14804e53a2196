import { Pool } from 'undici'
import { percentile } from './stats.ts'

export interface LoadResult {
  concurrency: number
  durationS: number
  requests: number
  committed: number
  aborted: number
  errors: number
  committedPerS: number
  requestsPerS: number
  abortRate: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
}

/**
 * A closed-loop load generator on undici: `concurrency` workers, each with its
 * own keep-alive connection, send a request as soon as the previous answer
 * arrives, for `durationMs`.
 */
export async function runLoad(origin: string, path: string, concurrency: number, durationMs: number, body: (worker: number, n: number) => string): Promise<LoadResult> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 })
  const latencies: number[] = []
  let committed = 0
  let aborted = 0
  let errors = 0
  const deadline = Date.now() + durationMs
  const started = process.hrtime.bigint()
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; Date.now() < deadline; n++) {
      const t = process.hrtime.bigint()
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body: body(w, n) })
        const text = await res.body.text()
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6)
        if (res.statusCode !== 200) errors++
        else if (text.includes('"outcome":"committed"')) committed++
        else if (text.includes('"outcome":"aborted"')) aborted++
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const durationS = Number(process.hrtime.bigint() - started) / 1e9
  await pool.close()
  const requests = latencies.length
  return {
    concurrency,
    durationS,
    requests,
    committed,
    aborted,
    errors,
    committedPerS: committed / durationS,
    requestsPerS: requests / durationS,
    abortRate: requests === 0 ? 0 : aborted / requests,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
  }
}
