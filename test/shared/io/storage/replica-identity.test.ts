import t from 'tap'
import { MemoryStore } from '../../../../shared/sim/memory-store.ts'
import { memberKey, replicaIdentityKey } from '../../../../shared/core/record-keys.ts'
import { admitReplica, loadReplicaIdentity, markAdmitted } from '../../../../shared/io/storage/replica-identity.ts'

t.test('a replica\'s identity: created once (empty or existing), kept, marked admitted', async (t) => {
  const store = new MemoryStore()
  const empty = await loadReplicaIdentity(store, 5)
  t.match(empty, { origin: 'empty', admitted: false, createdAt: 5 })
  t.same(await loadReplicaIdentity(store, 9), empty, 'the same identity at the next start')
  const admitted = await markAdmitted(store, empty)
  t.same(await loadReplicaIdentity(store), { ...empty, admitted: true }, 'admitted, durably')
  t.equal(admitted.admitted, true)

  const old = new MemoryStore()
  await old.write([{ type: 'put', key: 'kv/a', value: { value: 'x', version: 1 } }], true)
  t.match(await loadReplicaIdentity(old), { origin: 'existing', admitted: true }, 'data from before identities: an existing replica, admitted')

  const wrong = new MemoryStore()
  await wrong.write([{ type: 'put', key: replicaIdentityKey, value: { id: 7 } }], true)
  await t.rejects(loadReplicaIdentity(wrong), { message: /meta\/replica.*not a replica identity/ }, 'a record that is not an identity stops the node')
})

t.test('a coordinator admits a known replica, any new name, a rebuilt one; refuses an empty stranger', async (t) => {
  const store = new MemoryStore()
  t.same(await admitReplica(store, 'p2', undefined, 'p1'), { admitted: true }, 'a hello without a replica: nothing to check')
  t.same(await store.get(memberKey('p2')), undefined, 'and nothing recorded')
  t.same(await admitReplica(store, 'p2', { id: 'A', origin: 'empty' }, 'p1', 3), { admitted: true }, 'a name never seen: a new cluster')
  t.same(await store.get(memberKey('p2')), { participant: 'p2', replicaId: 'A', admittedAt: 3 })
  t.same(await admitReplica(store, 'p2', { id: 'A', origin: 'empty' }, 'p1'), { admitted: true }, 'the replica it knows, restarted')
  const refused = await admitReplica(store, 'p2', { id: 'B', origin: 'empty' }, 'p1')
  t.match(refused, { admitted: false, reason: /npm run replica -- rebuild p2 --from p1/ }, 'an empty replica under a known name: its data was lost')
  t.same(await admitReplica(store, 'p2', { id: 'C', origin: 'rebuilt' }, 'p1', 8), { admitted: true }, 'a rebuilt one')
  t.same(await store.get(memberKey('p2')), { participant: 'p2', replicaId: 'C', admittedAt: 8 }, 'now the member')
  t.same(await admitReplica(store, 'p2', { id: 'D', origin: 'existing' }, 'p1'), { admitted: true }, 'one with data from before identities')
})
