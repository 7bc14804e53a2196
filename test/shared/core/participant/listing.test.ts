import t from 'tap'
import { compareKeys, inRange, listPage, scannedPage, scanStart } from '../../../../shared/core/participant/listing.ts'
import type { Entry } from '../../../../shared/core/protocol/types.ts'

const kv = (...keys: string[]): Map<string, Entry> => new Map(keys.map((k, i) => [k, { value: `v${k}`, version: i + 1 }]))
const keysOf = (page: ReturnType<typeof listPage>): string[] | string => ('waitFor' in page ? `wait for ${page.waitFor}` : page.entries.map((e) => e.key))
const BIG = 1 << 20

t.test('keys compare by code point (UTF-8 byte order), not by UTF-16 code unit', async (t) => {
  const astral = '\u{1F600}' // a surrogate pair: code units D83D DE00
  const privateUse = '\uE000'
  t.equal([privateUse, astral].sort()[0], astral, 'JavaScript puts the astral key first')
  t.ok(compareKeys(privateUse, astral) < 0, 'code point order puts U+E000 first, as LevelDB does')
  t.ok(compareKeys(`a${astral}`, `a${astral}b`) < 0)
  t.equal(compareKeys(`x${astral}`, `x${astral}`), 0)
  t.ok(compareKeys('b', 'a') > 0)
  t.same(['b', astral, 'a', privateUse, ''].sort(compareKeys), ['', 'a', 'b', privateUse, astral])
})

t.test('a page: keys with the prefix after the cursor, in order, at most limit; more says whether others follow', async (t) => {
  const store = kv('b2', 'a1', 'b1', 'b3', 'c1', '\u0000client-id/x')
  t.same(keysOf(listPage(store, new Map(), { prefix: 'b', after: '', limit: 2 }, BIG)), ['b1', 'b2'])
  t.match(listPage(store, new Map(), { prefix: 'b', after: '', limit: 2 }, BIG), { more: true, entries: [{ key: 'b1', value: 'vb1', version: 3 }] })
  t.match(listPage(store, new Map(), { prefix: 'b', after: 'b2', limit: 2 }, BIG), { more: false, entries: [{ key: 'b3' }] })
  t.same(keysOf(listPage(store, new Map(), { prefix: '', after: '', limit: 10 }, BIG)), ['a1', 'b1', 'b2', 'b3', 'c1'], 'reserved keys are never listed')
  t.same(listPage(store, new Map(), { prefix: 'z', after: '', limit: 10 }, BIG), { entries: [], more: false })
})

t.test('read-your-writes: a page stops before the first held key, and waits when that key would come first', async (t) => {
  const store = kv('a', 'b', 'c', 'd')
  // 'bb' does not exist yet: a transaction creating it holds it.
  t.same(listPage(store, new Map([['bb', '1.1'], ['\u0000floor/7', '1.1']]), { prefix: '', after: '', limit: 10 }, BIG), { entries: [{ key: 'a', value: 'va', version: 1 }, { key: 'b', value: 'vb', version: 2 }], more: true })
  t.same(keysOf(listPage(store, new Map([['bb', '1.1']]), { prefix: '', after: 'b', limit: 10 }, BIG)), 'wait for bb')
  t.same(keysOf(listPage(store, new Map([['cc', '1.2'], ['bb', '1.1'], ['dd', '1.3']]), { prefix: '', after: 'b', limit: 10 }, BIG)), 'wait for bb', 'the first held key in key order')
  t.same(keysOf(listPage(store, new Map([['a', '1.1']]), { prefix: '', after: '', limit: 10 }, BIG)), 'wait for a', 'a held existing key too')
  t.same(keysOf(listPage(store, new Map([['d', '1.1']]), { prefix: '', after: '', limit: 2 }, BIG)), ['a', 'b'], 'a held key past a full page does not matter')
  t.same(keysOf(listPage(store, new Map([['zz', '1.1'], ['a', '1.2']]), { prefix: 'c', after: '', limit: 2 }, BIG)), ['c'], 'nor one outside the prefix')
})

t.test('a page is bounded in bytes too, and always holds at least one entry', async (t) => {
  const store = new Map<string, Entry>([['a', { value: 'x'.repeat(100), version: 1 }], ['b', { value: 'y'.repeat(100), version: 1 }], ['c', { value: 'z', version: 1 }]])
  t.same(keysOf(listPage(store, new Map(), { prefix: '', after: '', limit: 10 }, 150)), ['a'])
  t.match(listPage(store, new Map(), { prefix: '', after: '', limit: 10 }, 10), { entries: [{ key: 'a' }], more: true })
  t.same(keysOf(listPage(store, new Map(), { prefix: '', after: '', limit: 10 }, 400)), ['a', 'b', 'c'])
})

t.test('a listing of no keys is a bug of the caller', async (t) => {
  t.throws(() => listPage(new Map(), new Map(), { prefix: '', after: '', limit: 0 }, BIG), { name: 'InvariantViolation' })
})

t.test('a range holds client keys with its prefix past its cursor', async (t) => {
  const range = { prefix: 'b', after: 'b1', limit: 10 }
  t.ok(inRange(range, 'b2'))
  t.notOk(inRange(range, 'b1'), 'the cursor itself is not in it')
  t.notOk(inRange(range, 'c1'))
  t.notOk(inRange({ prefix: '', after: '', limit: 1 }, '\u0000floor/1'), 'nor a reserved key')
})

t.test('a store scan starts past the cursor, at the prefix, and past the reserved keys', async (t) => {
  t.same(scanStart({ prefix: '', after: '', limit: 1 }), { key: '\u0001', inclusive: true }, 'the empty prefix skips every reserved key')
  t.same(scanStart({ prefix: 'b', after: '', limit: 1 }), { key: 'b', inclusive: true })
  t.same(scanStart({ prefix: 'b', after: 'b', limit: 1 }), { key: 'b', inclusive: false }, 'a cursor equal to the prefix excludes it')
  t.same(scanStart({ prefix: 'b', after: 'b7', limit: 1 }), { key: 'b7', inclusive: false })
  t.same(scanStart({ prefix: 'b', after: 'a9', limit: 1 }), { key: 'b', inclusive: true }, 'a cursor before the prefix')
  t.same(scanStart({ prefix: '', after: '\u0001', limit: 1 }), { key: '\u0001', inclusive: false })
})

t.test('a page from a store scan: changes committed while it was read win, within the range it covers', async (t) => {
  const range = { prefix: '', after: '', limit: 3 }
  const read = [...kv('a', 'b', 'c')]
  t.same(keysOf(scannedPage(read, false, new Map(), new Map(), range, BIG) as ReturnType<typeof listPage>), ['a', 'b', 'c'])
  const changes = new Map<string, Entry | null>([['b', null], ['bb', { value: 'new', version: 9 }], ['a', { value: 'a2', version: 5 }], ['d', { value: 'd', version: 1 }]])
  t.same(scannedPage(read, true, changes, new Map(), range, BIG), { entries: [{ key: 'a', value: 'a2', version: 5 }, { key: 'bb', value: 'new', version: 9 }, { key: 'c', value: 'vc', version: 3 }], more: true }, 'd lies past the last key read, with more in the store: left for the next page')
  t.same(scannedPage(read, false, changes, new Map(), { ...range, limit: 10 }, BIG), { entries: [{ key: 'a', value: 'a2', version: 5 }, { key: 'bb', value: 'new', version: 9 }, { key: 'c', value: 'vc', version: 3 }, { key: 'd', value: 'd', version: 1 }], more: false }, 'with nothing more in the store, d is in')
  t.same(scannedPage(read, true, new Map([['a', null], ['b', null], ['c', null]]), new Map(), range, BIG), { rescanAfter: 'c' }, 'every key read deleted meanwhile: read on')
  t.same(scannedPage(read, false, new Map([['a', null], ['b', null], ['c', null]]), new Map(), range, BIG), { entries: [], more: false })
  const allGone = new Map<string, Entry | null>([['a', null], ['b', null], ['c', null]])
  t.same(scannedPage(read, true, allGone, new Map([['ab', '1.1']]), range, BIG), { waitFor: 'ab' }, 'reading on would jump over ab, held (being created): wait for it')
  t.same(scannedPage(read, true, allGone, new Map([['d', '1.1']]), range, BIG), { rescanAfter: 'c' }, 'a held key past what was read does not stop it')
  t.same(keysOf(scannedPage(read, true, new Map(), new Map([['a', '1.1']]), range, BIG) as ReturnType<typeof listPage>), 'wait for a', 'a held key first: wait, as listPage')
  t.same(scannedPage(read, false, new Map(), new Map([['b', '1.1']]), range, BIG), { entries: [{ key: 'a', value: 'va', version: 1 }], more: true })
})
