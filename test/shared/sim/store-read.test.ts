import t from 'tap'
import { describeStoreRead, readStore } from '../../../shared/sim/store-read.ts'

const store = new Map<string, unknown>([
  ['kv/a', { value: '1', version: 1 }],
  ['kv/b', { value: '2', version: 4 }],
  ['kv/\u{1F600}', { value: '3', version: 1 }],
  ['kv/\uE000', { value: '4', version: 1 }],
  ['kw/a', { value: 'x', version: 1 }],
  ['prep/1.1', {}],
])

t.test('a load finds each key\'s entry, or null', async (t) => {
  t.same(readStore(store, { type: 'load', id: 3, keys: ['b', 'zz'] }), { type: 'loaded', id: 3, entries: [['b', { value: '2', version: 4 }], ['zz', null]] })
})

t.test('a scan reads from its start on, in UTF-8 byte order, and says whether more follow', async (t) => {
  t.same(readStore(store, { type: 'scan', id: 1, prefix: '', start: { key: 'a', inclusive: true }, limit: 3 }), {
    type: 'scanned',
    id: 1,
    entries: [['a', { value: '1', version: 1 }], ['b', { value: '2', version: 4 }], ['\uE000', { value: '4', version: 1 }]],
    more: true,
  })
  t.same(readStore(store, { type: 'scan', id: 2, prefix: '', start: { key: 'a', inclusive: false }, limit: 3 }), {
    type: 'scanned',
    id: 2,
    entries: [['b', { value: '2', version: 4 }], ['\uE000', { value: '4', version: 1 }], ['\u{1F600}', { value: '3', version: 1 }]],
    more: false,
  })
})

t.test('a trace names each read', async (t) => {
  t.equal(describeStoreRead({ type: 'load', id: 2, keys: ['a', 'b'] }), 'load 2 of a,b')
  t.equal(describeStoreRead({ type: 'scan', id: 3, prefix: 'p/', start: { key: 'p/', inclusive: true }, limit: 5 }), 'scan 3 of "p/"')
})
