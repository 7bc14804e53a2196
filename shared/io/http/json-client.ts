import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { TlsMaterial } from '../runtime/tls.ts'

/** The largest answer a node takes from another (a trace at its per-transaction cap is a few tens of KiB). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024

export interface JsonAnswer {
  status: number
  body: unknown
}

/**
 * One HTTP request from a node to another node's API (the coordinator asking
 * participants for their traces and status, or the chaos API): bounded in
 * time and in size, JSON both ways, over TLS verified against the cluster's
 * CA when TLS is on (with this node's certificate, as on its peer links).
 * Rejects on a network error, a timeout, an oversized or non-JSON answer.
 */
export function requestJson(url: string, options: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs: number; tls?: TlsMaterial | undefined }): Promise<JsonAnswer> {
  const u = new URL(url)
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers }
  if (payload !== undefined) headers['content-type'] = 'application/json'
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      { method: options.method ?? 'GET', headers, ...(options.tls && u.protocol === 'https:' ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key } : {}) },
      (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new Error(`answer over ${MAX_ANSWER_BYTES} bytes`))
            return
          }
          chunks.push(chunk)
        })
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          try {
            resolve({ status: res.statusCode ?? 0, body: text === '' ? null : JSON.parse(text) })
          } catch {
            reject(new Error(`not JSON (status ${res.statusCode})`))
          }
        })
        res.on('error', reject)
      },
    )
    // A deadline for the whole exchange, not an idle timeout: an answer trickling in a byte at a time ends too.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs)
    req.on('close', () => { clearTimeout(deadline) })
    req.on('error', reject)
    req.end(payload)
  })
}

/** A participant's HTTP base from its peer URL (ws://host:port/… → http://host:port). */
export function httpBase(url: string): string {
  const u = new URL(url)
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:'
  return `${scheme}//${u.host}`
}
