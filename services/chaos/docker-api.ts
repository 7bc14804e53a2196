import { request } from 'node:http'

export interface DockerAnswer {
  status: number
  body: unknown
}

/** A minimal Docker Engine API client over its unix socket (no dependency needed for the five calls we make). */
export class DockerApi {
  constructor(readonly socketPath = '/var/run/docker.sock') {}

  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<DockerAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((ok, fail) => {
      const req = request(
        { socketPath: this.socketPath, method, path, headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }, timeout: 30000 },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let parsed: unknown = text
            try {
              parsed = text === '' ? undefined : JSON.parse(text)
            } catch {
              // the Engine answers some errors in plain text; keep the text
            }
            ok({ status: res.statusCode ?? 0, body: parsed })
          })
          res.on('error', fail)
        },
      )
      req.on('timeout', () => req.destroy(new Error(`Docker Engine API ${method} ${path} timed out`)))
      req.on('error', fail)
      req.end(payload)
    })
  }

  /** Like call, but a status outside 2xx/304 is an error carrying the Engine's message. */
  async expect(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const answer = await this.call(method, path, body)
    if ((answer.status >= 200 && answer.status < 300) || answer.status === 304) return answer.body
    const message = (answer.body as { message?: string } | undefined)?.message ?? JSON.stringify(answer.body)
    throw new Error(`Docker Engine API ${method} ${path}: ${answer.status} ${message}`)
  }
}
