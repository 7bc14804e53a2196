import { readFileSync } from 'node:fs'
import t from 'tap'
import { abortReasons } from '../../../shared/core/abort-reasons.ts'
import { apiErrors, CodedError, errorBody } from '../../../shared/core/api-errors.ts'

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8')
/** The README's error tables: `| `code` | status | meaning |` rows, the status an HTTP status, — (a WebSocket refusal) or "abort reason" (other tables, of metrics say, have rows that start alike). */
const documented = new Map([...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}|—|abort reason) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]))

t.test('every API error is in the README with its HTTP status', async (t) => {
  for (const [code, spec] of Object.entries(apiErrors)) {
    const status = documented.get(code)
    t.ok(status !== undefined, `README documents ${code}`)
    if (code === 'bad_frame' || code === 'frame_too_large') t.equal(status, '—', `${code} is a WebSocket refusal, no HTTP status`)
    else t.equal(status, String(spec.statusCode), `README gives ${code} its status ${spec.statusCode}`)
    t.ok(spec.statusCode >= 400 && spec.statusCode < 600, `${code} is a 4xx or a 5xx`)
  }
})

t.test('every abort reason is in the README as one, and no code is both an API error and an abort reason', async (t) => {
  for (const code of Object.keys(abortReasons)) {
    t.equal(documented.get(code), 'abort reason', `README documents ${code} as an abort reason`)
    t.notOk(Object.hasOwn(apiErrors, code), `${code} is not also an API error`)
  }
  const all = [...Object.keys(apiErrors), ...Object.keys(abortReasons)]
  t.equal(new Set(all).size, all.length, 'codes are unique across both catalogues')
  const inReadme = [...documented.keys()].filter((code) => !Object.hasOwn(apiErrors, code) && !Object.hasOwn(abortReasons, code))
  t.same(inReadme, [], 'the README documents no code that does not exist')
})

t.test('error bodies carry the code and the catalogue message unless given one', async (t) => {
  t.same(errorBody('overloaded'), { error: 'overloaded', message: apiErrors.overloaded.message })
  t.same(errorBody('bad_request', 'writes must be an array'), { error: 'bad_request', message: 'writes must be an array' })
  const err = new CodedError('id_conflict')
  t.equal(err.statusCode, 409)
  t.equal(err.message, apiErrors.id_conflict.message)
  t.equal(new CodedError('key_in_doubt', 'custom').message, 'custom')
})
