import { readFileSync } from 'node:fs'
import t from 'tap'
import { CodedError, errorBody, errors } from '../../shared/errors.ts'

t.test('every error code is documented in the README', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  for (const code of Object.keys(errors)) t.match(readme, `\`${code}\``, `README documents ${code}`)
})

t.test('error bodies carry the code and the catalogue message unless given one', async (t) => {
  t.same(errorBody('overloaded'), { error: 'overloaded', message: errors.overloaded.message })
  t.same(errorBody('bad_request', 'writes must be an array'), { error: 'bad_request', message: 'writes must be an array' })
  const err = new CodedError('id_conflict')
  t.equal(err.statusCode, 409)
  t.equal(err.message, errors.id_conflict.message)
  t.equal(new CodedError('key_in_doubt', 'custom').message, 'custom')
})

t.test('HTTP error codes map to 4xx/5xx statuses, abort reasons to none', async (t) => {
  for (const [code, spec] of Object.entries(errors)) t.ok(spec.statusCode >= 200 && spec.statusCode < 600, code)
})
