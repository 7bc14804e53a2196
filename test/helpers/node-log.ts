import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { apiErrors, type ApiErrorCode } from '../../shared/core/api-errors.ts'
import type { HttpResult } from './cluster.ts'

/** An error answer: the catalogue's status for `code`, a JSON body of exactly `{ error: code, message: string }`. */
export function expectError(t: Test, res: HttpResult<unknown>, code: ApiErrorCode, message?: string | RegExp, what: string = code): void {
  const body = res.body as Record<string, unknown>
  t.equal(res.status, apiErrors[code].statusCode, `${what}: HTTP ${apiErrors[code].statusCode}`)
  t.match(res.headers.get('content-type') ?? '', /^application\/json/, `${what}: a JSON body`)
  t.same(Object.keys(body).sort(), ['error', 'message'], `${what}: the body is { error, message }`)
  t.equal(body.error, code, `${what}: error code ${code}`)
  t.ok(typeof body.message === 'string' && body.message.length > 0, `${what}: message is a non-empty string`)
  if (message !== undefined) t.match(body.message, message, `${what}: message`)
}

export interface LogLine {
  level: number
  msg: string
  [field: string]: unknown
}

/** A node's JSON log lines; other lines (a failpoint's stderr line) and a line still being written are skipped. */
export function parseLog(text: string): LogLine[] {
  const lines: LogLine[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      lines.push(JSON.parse(line) as LogLine)
    } catch {
      // a line cut in the middle (still being written)
    }
  }
  return lines
}

/** The log of a LocalCluster node (its stdout and stderr go to <dataRoot>/<node>.log), as text; '' before it exists. */
export function nodeLogText(dataRoot: string, name: string): string {
  try {
    return readFileSync(join(dataRoot, `${name}.log`), 'utf8')
  } catch {
    return ''
  }
}
