import { createHash } from 'node:crypto'
import t from 'tap'
import { replicaDigest } from '../../../../shared/io/storage/replica-digest.ts'

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

t.test('the digest is SHA-256 over each entry as the JSON text of [key, value, version] and a newline, in the order given', async (t) => {
  t.same(replicaDigest([]), { entries: 0, digest: sha256('') })
  const entries = [['a', { value: 'x', version: 1 }], ['b"\n', { value: '', version: 7 }]] as const
  t.same(replicaDigest(entries), { entries: 2, digest: sha256('["a","x",1]\n["b\\"\\n","",7]\n') })
  t.not(replicaDigest([entries[1], entries[0]]).digest, replicaDigest(entries).digest, 'order matters: replicas are compared in key order')
  t.not(replicaDigest([['a', { value: 'x', version: 2 }]]).digest, replicaDigest([['a', { value: 'x', version: 1 }]]).digest, 'a version alone tells two replicas apart')
  // The separator keeps entries apart: no two different lists of entries hash the same text.
  t.not(replicaDigest([['a', { value: 'x', version: 1 }], ['b', { value: 'y', version: 1 }]]).digest, replicaDigest([['a', { value: 'x', version: 1 }]]).digest)
})
