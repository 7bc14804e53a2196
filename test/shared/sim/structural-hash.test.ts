import t from 'tap'
import { StructuralHash, hashText } from '../../../shared/sim/structural-hash.ts'

const h = new StructuralHash(['p1', 'p2'])
const of = (value: unknown, rename?: ReadonlyMap<string, string>): string => h.of(value, rename)

t.test('sets in meaning hash alike whatever their order: Maps, objects, arrays of plain values', async (t) => {
  t.equal(of(new Map([['a', 1], ['b', 2]])), of(new Map([['b', 2], ['a', 1]])))
  t.equal(of({ a: 1, b: [1, 2] }), of({ b: [1, 2], a: 1 }))
  t.equal(of(['x', 'y', 3]), of([3, 'y', 'x']))
  t.equal(of({ a: 1, gone: undefined }), of({ a: 1 }), 'an undefined field is no field, as in JSON')
})

t.test('what the canonical form tells apart, the hash tells apart', async (t) => {
  const distinct: unknown[] = [
    null, true, false, 0, 1, -1, 2 ** 40, 0.5, '0', '1', '', 'a', 'b', 'ab', 'ba',
    [], {}, new Map(), [null], [1, 1], [1], [[1, 2]], [[1, 3]], [{ a: 1 }, { b: 1 }], [{ b: 1 }, { a: 1 }],
    { a: 1 }, { a: '1' }, { b: 1 }, { a: null }, new Map([['a', 1]]), new Map([['a', null]]), { a: { b: 1 } }, { a: 1, b: 1 },
    [0.5, 1], ['#number:0.5'],
  ]
  const forms = distinct.map((v) => of(v))
  t.equal(new Set(forms).size, distinct.length, 'no two of them collide')
  t.equal(of([{ a: 1 }, { b: 1 }]), of([{ a: 1 }, { b: 1 }]), 'deterministic')
  t.equal(of([[1, 2]]), of([[2, 1]]), 'an inner array of plain values is a set too')
  t.equal(of(undefined), of(null), 'undefined (in an array) hashes as null, as canonical prints it')
  t.equal(of(new Map([[1, 'x']])), of(new Map([['1', 'x']])), 'Map keys are their strings, as in the canonical form')
  t.equal(of(0.5), of(0.5))
  t.equal(of('x'.repeat(3)).length, 8, '128 bits as 8 UTF-16 code units')
})

t.test('renaming: watched strings are renamed, keys and values alike, and seen', async (t) => {
  const swap = new Map([['p1', 'p2'], ['p2', 'p1']])
  t.equal(of({ p1: 'yes', p2: 'no', peer: 'p1' }, swap), of({ p2: 'yes', p1: 'no', peer: 'p2' }))
  t.not(of({ p1: 'yes' }), of({ p2: 'yes' }))
  of({ votes: ['p1'] })
  t.equal(h.sawWatched, true)
  of({ votes: ['p3'], a: 0.25 })
  t.equal(h.sawWatched, false, 'p3 is not watched; a non-integer number is no name either')
  t.equal(of('p3', swap), of('p3'), 'unwatched strings are never renamed')
})

t.test('the string table grows past its first size', async (t) => {
  const fresh = new StructuralHash()
  const forms = new Set(Array.from({ length: 1000 }, (_, i) => fresh.of(`s${i}`)))
  t.equal(forms.size, 1000)
  t.equal(fresh.of('s7'), new StructuralHash().of('s7'), 'a string hashes the same in every hasher')
})

t.test('a Set in a world state is refused, and so is a value nested past the frames', async (t) => {
  t.throws(() => of({ a: new Set([1]) }), /a Set in a world state/)
  let deep: unknown = 1
  for (let i = 0; i < 40; i++) deep = { a: deep }
  t.throws(() => of(deep), /nested too deep/)
  let fine: unknown = 1
  for (let i = 0; i < 20; i++) fine = { a: fine }
  t.equal(of(fine).length, 8, '20 levels of objects hash')
})

t.test('hashText: 16 bytes, deterministic, different texts differ', async (t) => {
  const a = Buffer.from(hashText('abc', new Uint8Array(16)))
  t.equal(a.length, 16)
  t.same(Buffer.from(hashText('abc', new Uint8Array(16))), a)
  const all = new Set(['', 'a', 'b', 'ab', 'ba', 'abc', 'abd'].map((s) => Buffer.from(hashText(s, new Uint8Array(16))).toString('hex')))
  t.equal(all.size, 7)
})
