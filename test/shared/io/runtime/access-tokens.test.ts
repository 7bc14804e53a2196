import t from 'tap'
import { isLoopback, parseAccessTokens, requireTokensOffLoopback } from '../../../../shared/io/runtime/access-tokens.ts'

const W = 'write-token-0123456789'
const R = 'read-token-0123456789'
const A = 'admin-token-0123456789'

t.test('CLIENT_TOKENS and ADMIN_TOKEN: each token with its scope, in order', async (t) => {
  t.same(parseAccessTokens('', ''), [], 'none: open')
  t.same(parseAccessTokens(` read:${R} , write:${W},`, A), [{ scope: 'read', token: R }, { scope: 'write', token: W }, { scope: 'admin', token: A }])
  t.same(parseAccessTokens(`write:a:b:c-token-0123456789`, ''), [{ scope: 'write', token: 'a:b:c-token-0123456789' }], 'the token is everything after the first colon')
})

t.test('a bad token setting is refused with a line that never shows a token', async (t) => {
  const refusals: [string, string, RegExp][] = [
    [`admin:${A}`, '', /CLIENT_TOKENS entry 1 must be read:<token> or write:<token>/],
    [W, '', /CLIENT_TOKENS entry 1 must be/],
    [`read:${R},write:short`, '', /the token of CLIENT_TOKENS entry 2 must be at least 16 .* \(got 5 characters\)/],
    [`read:${'x'.repeat(10)} ${'y'.repeat(10)}`, '', /without spaces \(got 21 characters\)/],
    ['', 'admin token with spaces', /the token of ADMIN_TOKEN must be/],
    [`read:${R},write:${R}`, '', /a token appears twice/],
  ]
  for (const [client, admin, message] of refusals) {
    const err = t.throws(() => parseAccessTokens(client, admin), message) as Error
    for (const secret of [R, W, A, 'short', 'admin token with spaces']) t.notOk(err.message.includes(secret), `${JSON.stringify(client)}: the line shows no token`)
  }
})

t.test('loopback is 127.0.0.0/8, ::1 and localhost; anything else needs the tokens its routes use', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) t.ok(isLoopback(host), `${host} is loopback`)
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'example.org', '127.0.0.1.nip.io']) t.notOk(isLoopback(host), `${host} is not`)
  t.doesNotThrow(() => { requireTokensOffLoopback('127.0.0.1', 'HOST', [], ['CLIENT_TOKENS', 'ADMIN_TOKEN']) }, 'open on loopback')
  t.throws(() => { requireTokensOffLoopback('0.0.0.0', 'HOST', [], ['CLIENT_TOKENS', 'ADMIN_TOKEN']) }, { message: 'invalid configuration: HOST=0.0.0.0 listens beyond this machine, so CLIENT_TOKENS and ADMIN_TOKEN must be set (or listen on 127.0.0.1)' })
  t.throws(() => { requireTokensOffLoopback('0.0.0.0', 'HOST', parseAccessTokens('', A), ['CLIENT_TOKENS', 'ADMIN_TOKEN']) }, { message: /so CLIENT_TOKENS must be set/ })
  t.throws(() => { requireTokensOffLoopback('0.0.0.0', 'HOST', parseAccessTokens(`read:${R}`, ''), ['CLIENT_TOKENS', 'ADMIN_TOKEN']) }, { message: /so ADMIN_TOKEN must be set/ })
  t.doesNotThrow(() => { requireTokensOffLoopback('0.0.0.0', 'HOST', parseAccessTokens(`read:${R}`, A), ['CLIENT_TOKENS', 'ADMIN_TOKEN']) }, 'both set: it may listen anywhere')
})
