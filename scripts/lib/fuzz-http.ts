import { connect } from 'node:net'
import fc from 'fast-check'
import { Pool } from 'undici'

/**
 * Generated HTTP requests against a real coordinator (fast-check), and the
 * properties every answer must have: never a 5xx, every error a catalogue
 * body `{ error, message }`. Generation is seeded: case i of seed s is the
 * same request on every machine, so a failure names its replay.
 */
export interface FuzzRequest {
  /** 'http': a well-framed request sent through undici; 'raw': bytes on a socket (broken framing). */
  via: 'http' | 'raw'
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Buffer
  /** Raw requests only: the exact bytes. */
  raw?: string
}

const knownPaths = ['/v1/transactions', '/v1/keys/k1', '/v1/keys/k2', '/v1/keys', '/v1/keys?prefix=k&limit=2', '/v1/keys?after=k1&limit=1000', '/v1/transactions/1.1', '/v1/transactions?id=c1', '/v1/status', '/healthz', '/readyz', '/v1/in-doubt']
const hostileKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', '\u0000', 'k1', 'k2', 'k3', '../k1', '%2F', 'ü', '\ud800']

const key = fc.oneof(fc.constantFrom(...hostileKeys), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }))
const value = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', 'x'.repeat(70_000)))

const write = fc.oneof(
  { arbitrary: fc.record({ key, value, ifVersion: fc.oneof(fc.nat(5), fc.integer(), fc.double()), ifAbsent: fc.boolean() }, { requiredKeys: ['key', 'value'] }), weight: 3 },
  // Deletes, and writes that are neither or both (a value and delete), or delete: false.
  { arbitrary: fc.record({ key, value, delete: fc.oneof(fc.constant(true), fc.constant(true), fc.boolean()), ifVersion: fc.nat(5), ifAbsent: fc.boolean() }, { requiredKeys: ['key'] }), weight: 1 },
)
/** Well-formed transactions on a few keys (some hostile), with preconditions: these commit or abort, and fill the replicas. */
const validWrite = fc.tuple(
  fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6', '__proto__', 'constructor', 'ü'),
  fc.string({ maxLength: 12 }),
  fc.oneof({ arbitrary: fc.constant({}), weight: 4 }, { arbitrary: fc.nat(3).map((v) => ({ ifVersion: v })), weight: 1 }, { arbitrary: fc.constant({ ifAbsent: true }), weight: 1 }),
  fc.nat(5),
).map(([key, value, precondition, kind]) => (kind === 0 ? { key, delete: true, ...precondition } : { key, value, ...precondition }))
const validTxn = fc.record({
  writes: fc.uniqueArray(validWrite, { minLength: 1, maxLength: 3, selector: (w) => w.key }),
  id: fc.string({ minLength: 8, maxLength: 16 }),
}, { requiredKeys: ['writes'] }).map((b) => JSON.stringify(b))

const txn = fc.record({ writes: fc.array(write, { minLength: 0, maxLength: 4 }), id: fc.oneof(fc.constantFrom('c1', 'c2', '__proto__'), fc.string({ maxLength: 10 })), timeoutMs: fc.oneof(fc.nat(10_000), fc.integer(), fc.constant(0)) }, { requiredKeys: ['writes'] })

/** A value of any JSON type, to put where another type belongs. */
const wrongType = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }), fc.array(fc.nat(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.nat(), { maxKeys: 3 }))

/** A valid transaction body with one part replaced by a wrong type or an unknown field. */
const mutatedTxn = fc.tuple(txn, fc.constantFrom('writes', 'write', 'key', 'value', 'delete', 'ifVersion', 'ifAbsent', 'id', 'timeoutMs', 'extra', 'writeExtra'), wrongType).map(([body, where, bad]) => {
  const b = body as Record<string, unknown> & { writes: Record<string, unknown>[] }
  const first = b.writes[0]
  switch (where) {
    case 'writes':
      b.writes = bad as never
      break
    case 'write':
      if (first) b.writes[0] = bad as never
      break
    case 'extra':
      b.extra = bad
      break
    case 'writeExtra':
      if (first) first.extra = bad
      break
    case 'id':
    case 'timeoutMs':
      b[where] = bad
      break
    default:
      if (first) first[where] = bad
  }
  return JSON.stringify(b)
})

const deepNesting = fc.tuple(fc.integer({ min: 10, max: 200_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
  const close = open === '[' ? ']' : '}'
  return `{"writes":${open.repeat(depth)}1${close.repeat(depth)}}`
})

/** Bodies as text: valid and invalid, JSON and not. */
const bodyText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: txn.map((b) => JSON.stringify(b)), weight: 4 },
  { arbitrary: mutatedTxn, weight: 4 },
  { arbitrary: fc.json({ maxDepth: 4 }), weight: 2 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: fc.tuple(txn, fc.nat()).map(([b, cut]) => { const s = JSON.stringify(b); return s.slice(0, cut % Math.max(1, s.length)) }), weight: 2 },
  {
    arbitrary: fc.constantFrom(
      '{"writes":[{"key":"k1","value":"v"}],"__proto__":{"polluted":1}}',
      '{"writes":[{"key":"k1","value":"v","__proto__":{"ifAbsent":true}}]}',
      '{"constructor":{"prototype":{"polluted":1}},"writes":[{"key":"k1","value":"v"}]}',
      '{"writes":[{"key":"k1","value":"a"}],"writes":[{"key":"k2","value":"b"}]}',
      '{"writes":[{"key":"k1","value":"a","value":"b"}]}',
      '{"writes":[{"key":"__proto__","value":"x"}]}',
      '{"writes":[{"key":"constructor","value":"x","ifVersion":0}]}',
      '', ' ', 'null', '[]', '{}', '"writes"', '1e400', '{"writes":[{"key":"k1","value":"\\ud800"}]}', '\ufeff{"writes":[]}',
    ),
    weight: 2,
  },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 64 }), weight: 1 },
)

/** Bodies over the default 1 MiB limit, and one over the 8 MiB frame limit: rare, they cost more than a thousand small requests. */
const hugeBody = fc.constantFrom(1.01, 2, 9).map((mb) => `{"writes":[{"key":"k1","value":"${'v'.repeat(Math.round(mb * 1024 * 1024))}"}]}`)

const contentType = fc.constantFrom(undefined, 'application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', '', 'application/json, text/plain', ';;;')

const segment = fc.oneof(fc.constantFrom(...hostileKeys.filter((k) => k !== '\ud800').map(encodeURIComponent), '%ED%A0%80', '%', '%ZZ', '%00', '..', '.', '', 'x'.repeat(5000)), fc.webSegment())
const oddPath = fc.oneof(
  fc.tuple(fc.constantFrom('/v1/keys/', '/v1/transactions/', '/v1/', '/', '//v1/keys/', '/v1/keys/a/'), segment).map(([a, b]) => a + b),
  fc.tuple(fc.constantFrom(...knownPaths), fc.webQueryParameters()).map(([p, q]) => `${p}${p.includes('?') ? '&' : '?'}${q}`),
  fc.constantFrom('/v1/keys?limit=0', '/v1/keys?limit=1001', '/v1/keys?limit=-1', '/v1/keys?prefix=%00', '/v1/keys?after=%ED%A0%80', '/v1/keys?prefix=a&prefix=b', '/v1/keys?limit[]=1', '/v1/keys?__proto__=1', '/v1/transactions?id=', '/v1/transactions?id=%ZZ', '/v1/transactions?id=a&id=b', '/v1/transactions?id[]=a', '/v1/transactions?id=__proto__', '/v1/transactions?__proto__=1', '/v1/transactions/%2e%2e', '/v1/keys/%E0%A4%A'),
  fc.webPath(),
)

/** A client's request, nearly right: the route and content type are right, the body is valid or has one thing wrong. */
const plausibleRequest: fc.Arbitrary<FuzzRequest> = fc.oneof(validTxn, mutatedTxn).map((body) => ({ via: 'http' as const, method: 'POST', path: '/v1/transactions', headers: { 'content-type': 'application/json' }, body }))

const httpRequest: fc.Arbitrary<FuzzRequest> = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  path: fc.oneof({ arbitrary: fc.constantFrom(...knownPaths), weight: 3 }, { arbitrary: oddPath, weight: 2 }),
  contentType,
  body: fc.option(fc.oneof({ arbitrary: bodyText, weight: 150 }, { arbitrary: hugeBody, weight: 1 }), { nil: undefined, freq: 8 }),
  encoding: fc.option(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus'), { nil: undefined, freq: 10 }),
}).map(({ method, path, contentType: type, body, encoding }) => {
  const headers: Record<string, string> = {}
  if (type !== undefined) headers['content-type'] = type
  if (encoding !== undefined) headers['content-encoding'] = encoding
  const sendsBody = body !== undefined && method !== 'GET' && method !== 'HEAD'
  const request: FuzzRequest = { via: 'http', method, path: path.startsWith('/') ? path : `/${path}`, headers, ...(sendsBody ? { body } : {}) }
  return sendsBody && body.length > 256 * 1024 ? asRaw(request) : request
})

/**
 * A large body goes on a plain socket: a server that answers (413, 404) and
 * closes before reading it resets the connection while the client still
 * sends, and an HTTP client then reports EPIPE instead of the answer, which
 * was sent. The socket reader keeps what arrived before the reset.
 */
function asRaw(r: FuzzRequest): FuzzRequest {
  const headers = Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  const body = r.body!.toString()
  return { ...r, via: 'raw', raw: `${r.method} ${r.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}` }
}

/** Broken framing, written to a socket as is: a declared length longer than the body, bad chunking, bad header lines. */
const rawRequest: fc.Arbitrary<FuzzRequest> = fc.tuple(bodyText.filter((b) => b.length < 10_000), fc.constantFrom('short-body', 'bad-chunk', 'bad-header', 'both-lengths', 'bad-version', 'huge-header')).map(([body, how]) => {
  const len = Buffer.byteLength(body)
  const head = 'POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n'
  const raw = {
    'short-body': `${head}Content-Length: ${len + 10}\r\n\r\n${body}`,
    'bad-chunk': `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
    'bad-header': `${head}Content-Length: ${len}\r\nBad Header Line\r\n\r\n${body}`,
    'both-lengths': `${head}Content-Length: ${len}\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
    'bad-version': `POST /v1/transactions HTTP/9.9\r\nHost: x\r\nContent-Length: ${len}\r\n\r\n${body}`,
    'huge-header': `${head}X-Big: ${'a'.repeat(100_000)}\r\nContent-Length: ${len}\r\n\r\n${body}`,
  }[how]
  return { via: 'raw' as const, method: 'POST', path: '/v1/transactions', headers: {}, raw }
})

/** n requests for a seed: about one in twenty with broken framing. */
export function fuzzRequests(seed: number, n: number): FuzzRequest[] {
  return fc.sample(fc.oneof({ arbitrary: plausibleRequest, weight: 8 }, { arbitrary: httpRequest, weight: 11 }, { arbitrary: rawRequest, weight: 1 }), { seed, numRuns: n })
}

export interface FuzzAnswer {
  /** undefined: the server closed the connection without an answer (only for broken framing). */
  status?: number
  contentType?: string
  text: string
  retryAfter?: string
}

export async function sendFuzzRequest(pool: Pool, baseUrl: string, r: FuzzRequest): Promise<FuzzAnswer> {
  if (r.via === 'raw') return sendRaw(baseUrl, r.raw!)
  const res = await pool.request({ method: r.method as 'GET', path: r.path, headers: r.headers, body: r.body ?? null })
  const text = await res.body.text()
  const answer: FuzzAnswer = { status: res.statusCode, text }
  const type = res.headers['content-type']
  if (typeof type === 'string') answer.contentType = type
  return answer
}

async function sendRaw(baseUrl: string, raw: string): Promise<FuzzAnswer> {
  const { hostname, port } = new URL(baseUrl)
  const socket = connect(Number(port), hostname)
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1') })
  socket.on('error', () => undefined)
  socket.write(raw)
  // Half-close: a body shorter than its declared length is then an aborted request, not one still arriving.
  socket.end()
  await new Promise<void>((ok) => {
    socket.on('close', () => { ok() })
    socket.setTimeout(10_000, () => { socket.destroy() })
  })
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(received)
  if (!match) return { text: received }
  const [headerText, ...rest] = received.split('\r\n\r\n')
  const type = /\r\ncontent-type: *([^\r]*)/i.exec(headerText!)?.[1]
  return { status: Number(match[1]), text: rest.join('\r\n\r\n'), ...(type === undefined ? {} : { contentType: type }) }
}

/** What is wrong with an answer, or undefined: no 5xx, and every 4xx is a JSON `{ error, message }`. */
export function answerFault(r: FuzzRequest, a: FuzzAnswer): string | undefined {
  if (a.status === undefined) return r.via === 'raw' ? undefined : 'no answer'
  if (a.status >= 500) return `status ${a.status}: ${a.text.slice(0, 300)}`
  if (a.status < 400 || r.method === 'HEAD') return undefined
  if (!(a.contentType ?? '').startsWith('application/json')) return `status ${a.status} with content-type ${a.contentType}: ${a.text.slice(0, 200)}`
  let body: unknown
  try {
    body = JSON.parse(a.text)
  } catch {
    return `status ${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`
  }
  const b = body as { error?: unknown; message?: unknown }
  if (typeof b.error !== 'string' || typeof b.message !== 'string' || b.error === '' || b.message === '') return `status ${a.status} without { error, message }: ${a.text.slice(0, 200)}`
  return undefined
}

/** The puts of a request the coordinator answered `committed`: what may be on a replica afterwards (a delete leaves nothing). */
export function committedWrites(r: FuzzRequest, a: FuzzAnswer): { key: string; value: string }[] {
  if (a.status !== 200 || r.method !== 'POST' || r.body === undefined) return []
  const answer = JSON.parse(a.text) as { outcome?: string }
  if (answer.outcome !== 'committed') return []
  const body = JSON.parse(r.body.toString()) as { writes: { key: string; value?: string }[] }
  return body.writes.flatMap((w) => (w.value === undefined ? [] : [{ key: w.key, value: w.value }]))
}

export interface FuzzSummary {
  requests: number
  byStatus: Record<string, number>
  faults: string[]
  /** Time spent per kind of request (ms). */
  msByVia: Record<FuzzRequest['via'], number>
  /** Requests answered `committed`. */
  commits: number
  /** Every value a committed request wrote, by key. */
  committed: Map<string, Set<string>>
}

/** Sends the seed's n requests one after another (so that no answer depends on another's timing). */
export async function runHttpFuzz(baseUrl: string, seed: number, n: number, onProgress?: (done: number) => void): Promise<FuzzSummary> {
  const pool = new Pool(baseUrl, { connections: 1, pipelining: 1 })
  const summary: FuzzSummary = { requests: 0, byStatus: {}, faults: [], msByVia: { http: 0, raw: 0 }, commits: 0, committed: new Map() }
  try {
    for (const [i, r] of fuzzRequests(seed, n).entries()) {
      let answer: FuzzAnswer
      const sentAt = performance.now()
      try {
        answer = await sendFuzzRequest(pool, baseUrl, r)
        summary.msByVia[r.via] += performance.now() - sentAt
      } catch (err) {
        summary.faults.push(`case ${i} (seed ${seed}): ${r.method} ${r.path.slice(0, 80)}: request failed: ${(err as Error).message}`)
        continue
      }
      summary.requests++
      const status = String(answer.status ?? 'closed')
      summary.byStatus[status] = (summary.byStatus[status] ?? 0) + 1
      const fault = answerFault(r, answer)
      if (fault !== undefined) summary.faults.push(`case ${i} (seed ${seed}): ${r.method} ${r.path.slice(0, 80)} ${JSON.stringify(r.headers)} body ${JSON.stringify((r.body ?? r.raw ?? '').toString().slice(0, 120))}: ${fault}`)
      const writes = committedWrites(r, answer)
      if (writes.length > 0) summary.commits++
      for (const w of writes) {
        const values = summary.committed.get(w.key) ?? new Set()
        values.add(w.value)
        summary.committed.set(w.key, values)
      }
      if ((i + 1) % 1000 === 0) onProgress?.(i + 1)
    }
  } finally {
    await pool.close()
  }
  return summary
}
