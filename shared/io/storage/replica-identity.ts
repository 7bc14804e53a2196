import { randomUUID } from 'node:crypto'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { memberKey, recordPrefix, replicaIdentityKey } from '../../core/record-keys.ts'
import type { Store } from '../../core/store.ts'
import { CorruptRecordError } from '../../core/protocol/record-reader.ts'

/**
 * How a replica came to be: `empty` (created with nothing in it: a new
 * cluster, or a node whose data directory was lost), `rebuilt` (copied from a
 * live peer by `npm run replica -- rebuild`, its digest checked), `existing`
 * (data written before replicas had identities).
 */
export const ReplicaOrigin = Type.Union([Type.Literal('empty'), Type.Literal('rebuilt'), Type.Literal('existing')])
export type ReplicaOrigin = Static<typeof ReplicaOrigin>

export const ReplicaIdentitySchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    origin: ReplicaOrigin,
    createdAt: Type.Number(),
    /** A coordinator admitted this replica once: from then on it may act as an acceptor (Paxos Commit). */
    admitted: Type.Boolean(),
    /** rebuilt: from which participant, and the digest both sides computed. */
    from: Type.Optional(Type.String()),
    digest: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)
export type ReplicaIdentity = Static<typeof ReplicaIdentitySchema>

/** What a coordinator keeps per participant: the replica it admitted last. */
export const MemberRecordSchema = Type.Object({ participant: Type.String(), replicaId: Type.String(), admittedAt: Type.Number() }, { additionalProperties: false })
export type MemberRecord = Static<typeof MemberRecordSchema>

/** What a participant tells a coordinator in its hello. */
export type ReplicaClaim = Pick<ReplicaIdentity, 'id' | 'origin'>

/**
 * This store's replica identity, created on first use: `empty` when the
 * store holds nothing else, `existing` when it holds data from before
 * identities. Written with sync before the node serves anything.
 */
export async function loadReplicaIdentity(store: Store, now = Date.now()): Promise<ReplicaIdentity> {
  const stored = await store.get(replicaIdentityKey)
  if (stored !== undefined) {
    if (!Value.Check(ReplicaIdentitySchema, stored)) throw new CorruptRecordError(replicaIdentityKey, 'not a replica identity (is DATA_DIR the right directory?)')
    return stored
  }
  const hasData = (await store.scan('', 1)).some(([key]) => !key.startsWith(recordPrefix.meta))
  const identity: ReplicaIdentity = { id: randomUUID(), origin: hasData ? 'existing' : 'empty', createdAt: now, admitted: hasData }
  await store.write([{ type: 'put', key: replicaIdentityKey, value: identity }], true)
  return identity
}

/** Marks the replica admitted (durably): a coordinator checked it is the member it knows. */
export async function markAdmitted(store: Store, identity: ReplicaIdentity): Promise<ReplicaIdentity> {
  const admitted = { ...identity, admitted: true }
  await store.write([{ type: 'put', key: replicaIdentityKey, value: admitted }], true)
  return admitted
}

export type Admission = { admitted: true } | { admitted: false; reason: string }

/**
 * The coordinator's check of a participant's hello. A replica it admitted
 * before is welcome; so is any replica under a name it never admitted (a new
 * cluster), a rebuilt one (checked identical to a live peer) and one from
 * before identities. What it refuses is an `empty` replica under a name whose
 * replica it knows: that node lost its data directory, and joining empty
 * would make its replica differ from every other.
 */
export async function admitReplica(store: Store, participant: string, claim: ReplicaClaim | undefined, sourceHint: string, now = Date.now()): Promise<Admission> {
  // A participant from before identities (or a test's bare hello): nothing to compare.
  if (claim === undefined) return { admitted: true }
  const stored = await store.get(memberKey(participant))
  const known = Value.Check(MemberRecordSchema, stored) ? stored : undefined
  if (known?.replicaId === claim.id) return { admitted: true }
  if (known !== undefined && claim.origin === 'empty') {
    return { admitted: false, reason: `replica_unknown: ${participant}'s data directory is new, but this coordinator admitted another replica of ${participant} before (its data was lost?). It will not join empty. Rebuild it from a live participant: npm run replica -- rebuild ${participant} --from ${sourceHint}` }
  }
  const record: MemberRecord = { participant, replicaId: claim.id, admittedAt: now }
  await store.write([{ type: 'put', key: memberKey(participant), value: record }], true)
  return { admitted: true }
}
