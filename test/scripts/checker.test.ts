import t from 'tap'
import { checkRun, type ReplicaState } from '../../scripts/lib/checker.ts'
import { foldHistory, type HistoryEvent, type HistoryWrite } from '../../scripts/lib/history.ts'
import { claimKey, claimValue } from '../../shared/core/protocol/client-id-claim.ts'
import { floorKey } from '../../shared/core/participant/version-floor.ts'

const replica = (participant: string, entries: ReplicaState['entries'], extra: Partial<ReplicaState> = {}): ReplicaState => ({ participant, entries, prepared: [], locks: 0, ...extra })
const w = (key: string, value: string, extra: Partial<HistoryWrite> = {}): HistoryWrite => ({ key, value, ...extra })

/** A hand-made history: op n invoked at t, answered at t + 10. */
const invoke = (n: number, t: number, writes: HistoryWrite[], client = n): HistoryEvent => ({ type: 'invoke', t, n, client, id: `op${n}`, writes })
const ok = (n: number, t: number, versions: Record<string, number>): HistoryEvent => ({ type: 'ok', t, n, txId: `1.${n}`, versions, attempts: 1 })
const fail = (n: number, t: number, reason = 'conflict'): HistoryEvent => ({ type: 'fail', t, n, txId: `1.${n}`, reason, attempts: 1 })

// op0 commits a and b; op1 aborts on a; op2 commits a; op3 is cut off twice, then learns by retry;
// op4 is never answered and resolved by the status API; op5 never reached the coordinator.
const clean: HistoryEvent[] = [
  invoke(0, 0, [w('a', 'v0'), w('b', 'v0')]),
  ok(0, 10, { a: 1, b: 1 }),
  invoke(1, 20, [w('a', 'v1', { ifVersion: 0 })]),
  fail(1, 30, 'precondition_failed'),
  invoke(2, 40, [w('a', 'v2', { ifVersion: 1 })]),
  ok(2, 50, { a: 2 }),
  invoke(3, 60, [w('c', 'v3', { ifAbsent: true })]),
  { type: 'info', t: 70, n: 3, error: 'ECONNRESET' },
  { type: 'info', t: 80, n: 3, error: 'ECONNREFUSED' },
  ok(3, 90, { c: 1 }),
  invoke(4, 100, [w('b', 'v4')]),
  { type: 'info', t: 110, n: 4, error: 'TimeoutError' },
  { type: 'resolve', t: 500, n: 4, outcome: 'committed', txId: '1.4', versions: { b: 2 } },
  invoke(5, 120, [w('d', 'v5')]),
  { type: 'info', t: 130, n: 5, error: 'ECONNREFUSED' },
  { type: 'resolve', t: 500, n: 5, outcome: 'never-started' },
]
const cleanEntries = { a: { value: 'v2', version: 2 }, b: { value: 'v4', version: 2 }, c: { value: 'v3', version: 1 } }
const faults = [{ t: 65, event: 'fault' as const, kind: 'kill', node: 'coordinator' }, { t: 95, event: 'heal' as const, kind: 'kill', node: 'coordinator' }]

const codes = (report: ReturnType<typeof checkRun>): string[] => report.violations.map((v) => v.code)

t.test('folding: each operation gets its outcome, how it was learned, and its cut-offs', async (t) => {
  const records = foldHistory([...clean, ok(99, 1, {})])
  t.equal(records.length, 6, 'an event of an operation never invoked is ignored')
  t.match(records[0], { n: 0, outcome: 'committed', resolvedBy: 'reply', completedAt: 10, versions: { a: 1, b: 1 }, txId: '1.0' })
  t.match(records[1], { outcome: 'aborted', reason: 'precondition_failed', resolvedBy: 'reply' })
  t.match(records[3], { outcome: 'committed', resolvedBy: 'retry', cutOffs: 2 })
  t.match(records[4], { outcome: 'committed', resolvedBy: 'status', versions: { b: 2 }, txId: '1.4' })
  t.equal(records[4]?.completedAt, undefined, 'a status resolution is not a completion the client saw')
  t.match(records[5], { outcome: 'never-started', resolvedBy: 'status' })
  t.match(foldHistory([invoke(7, 0, [w('x', 'y')]), { type: 'resolve', t: 1, n: 7, outcome: 'aborted', reason: 'coordinator_restarted' }])[0], { outcome: 'aborted', reason: 'coordinator_restarted' })
})

t.test('a clean history with identical replicas: no violation, and the counts', async (t) => {
  const report = checkRun(foldHistory(clean), [replica('p1', cleanEntries), replica('p2', cleanEntries)], faults)
  t.same(report.violations, [])
  t.same(report.counts, { tried: 6, committed: 4, committedDeletes: 0, aborted: 1, abortedBy: { precondition_failed: 1 }, neverStarted: 1, unknown: 0, resolvedByRetry: 1, resolvedByStatus: 2, rejectedBy: {}, faults: { kill: 1 } })
  t.same(checkRun(foldHistory([invoke(0, 0, [w('a', 'x')]), { type: 'resolve', t: 5, n: 0, outcome: 'aborted' }]), [replica('p1', {})]).counts.abortedBy, { unstated: 1 })
})

t.test('catches replicas that differ, and anything left in doubt', async (t) => {
  const r = checkRun(foldHistory(clean), [replica('p1', cleanEntries), replica('p2', { ...cleanEntries, c: { value: 'v3', version: 1 }, b: { value: 'v0', version: 1 } }, { prepared: ['1.9'], locks: 1 })])
  t.match(r.violations, [{ code: 'in-doubt-left', detail: /p2 still holds 1 PREPARED records and 1 locks/ }, { code: 'replicas-differ', detail: /p2 differs from p1: b:/ }])
})

t.test('with no replica there is nothing to trust', async (t) => {
  t.same(codes(checkRun(foldHistory(clean), [])), ['no-replica'])
})

t.test('catches a lost acknowledged commit, with the trace around it', async (t) => {
  const r = checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, a: { value: 'v0', version: 1 } })], faults)
  t.match(r.violations, [{ code: 'lost-commit', op: 2, key: 'a', detail: /replicas at version 1, but op 2 committed version 2/ }])
  t.match(r.violations[0]?.trace, [/\+0\.000s {4}op 0 \(client 0\) invoke a=v0 b=v0/, /op 0 committed/, /op 1 .*a=v1@ifVersion 0/, /op 1 aborted precondition_failed/, />> op 2 .*invoke a=v2@ifVersion 1/, />> op 2 committed/, /chaos fault kill coordinator/, /chaos heal kill coordinator/])
  const cOnly = checkRun(foldHistory(clean), [replica('p1', { a: cleanEntries.a, b: cleanEntries.b })], faults)
  t.match(cOnly.violations, [{ code: 'lost-commit', key: 'c' }])
  t.match(cOnly.violations[0]?.trace, [/\+0\.060s >> op 3 .*invoke c=v3@ifAbsent/, /\+0\.065s {4}chaos fault kill coordinator/, /\+0\.090s >> op 3 committed .* after 2 cut-off\(s\)/, /chaos heal kill coordinator/])
})

t.test('catches a write of an aborted or never-started transaction', async (t) => {
  const leaked = checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, a: { value: 'v1', version: 3 } })])
  t.match(codes(leaked), ['aborted-write-visible', 'unexplained-version'])
  t.match(leaked.violations[0], { op: 1, key: 'a', detail: /holds a="v1" from op 1, which ended aborted \(precondition_failed\)/ })
  const ghost = checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, d: { value: 'v5', version: 1 } })])
  t.match(ghost.violations, [{ code: 'aborted-write-visible', detail: /op 5, which ended never-started$/ }, { code: 'unexplained-version', key: 'd' }])
  t.match(ghost.violations[1]?.trace, undefined)
})

t.test('catches a value no operation wrote', async (t) => {
  t.match(checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, zz: { value: 'boo', version: 1 } })]).violations, [{ code: 'foreign-value', key: 'zz' }, { code: 'unexplained-version', key: 'zz' }])
})

t.test('catches half of a transaction applied (a commit whose other key stayed behind)', async (t) => {
  // op 4 committed b at version 2, but b still holds op 0's value at version 1 on the replicas.
  t.match(checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, b: { value: 'v0', version: 1 } })]).violations, [{ code: 'lost-commit', op: 4, key: 'b' }])
})

t.test('catches a replica value that is not the last commit', async (t) => {
  t.match(checkRun(foldHistory(clean), [replica('p1', { ...cleanEntries, a: { value: 'v0', version: 2 } })]).violations, [{ code: 'wrong-final-value', op: 2, detail: /replicas hold "v0", the last commit \(op 2\) wrote "v2"/ }])
})

t.test('catches two commits claiming one version, a commit without versions, and an outcome never learned', async (t) => {
  const history = [...clean, invoke(6, 200, [w('a', 'v6')]), ok(6, 210, { a: 2 }), invoke(7, 220, [w('e', 'v7')]), ok(7, 230, {}), invoke(8, 240, [w('f', 'v8')])]
  const r = checkRun(foldHistory(history), [replica('p1', { ...cleanEntries, a: { value: 'v6', version: 2 } })])
  t.match(codes(r), ['version-claimed-twice', 'missing-version', 'no-outcome'])
  t.match(r.violations[2], { op: 8, detail: /op 8 \(op8\) never got a definite outcome/, trace: [/>> op 8 .* invoke f=v8/, /op 8 never answered; unresolved/] })
})

t.test('catches a broken precondition', async (t) => {
  const history = [invoke(0, 0, [w('a', 'x0')]), ok(0, 5, { a: 1 }), invoke(1, 10, [w('a', 'x1', { ifVersion: 0 })]), ok(1, 20, { a: 2 }), invoke(2, 30, [w('b', 'y2', { ifAbsent: true })]), ok(2, 40, { b: 2 }), invoke(3, 0, [w('b', 'y3')]), ok(3, 5, { b: 1 })]
  const r = checkRun(foldHistory(history), [replica('p1', { a: { value: 'x1', version: 2 }, b: { value: 'y2', version: 2 } })])
  t.match(r.violations, [{ code: 'precondition-broken', op: 1, detail: /required a absent but committed version 2 right after op 0 wrote version 1/ }, { code: 'precondition-broken', op: 2, detail: /required b absent but committed version 2 right after op 3/ }])
  t.match(checkRun(foldHistory([invoke(0, 0, [w('a', 'x0')]), ok(0, 5, { a: 1 }), invoke(1, 10, [w('a', 'x1', { ifVersion: 1 })]), ok(1, 20, { a: 3 })]), [replica('p1', { a: { value: 'x1', version: 3 } })]).violations, [{ code: 'precondition-broken', op: 1, detail: /required a at version 1 but committed version 3/ }])
})

t.test('catches versions going back in real time', async (t) => {
  // op 1 was acknowledged (t=10) before op 0 began (t=20), yet op 0 holds the older version.
  const history = [invoke(1, 0, [w('a', 'x1')]), ok(1, 10, { a: 2 }), invoke(0, 20, [w('a', 'x0')]), ok(0, 30, { a: 1 }), invoke(2, 40, [w('a', 'x2')]), { type: 'resolve' as const, t: 99, n: 2, outcome: 'committed' as const, versions: { a: 3 } }]
  const r = checkRun(foldHistory(history), [replica('p1', { a: { value: 'x2', version: 3 } })])
  t.match(r.violations, [{ code: 'version-went-back', op: 0, key: 'a', detail: /op 0 committed version 1 although op 1 had committed version 2 before op 0 began/ }])
  // Overlapping operations may commit in either order.
  const overlapping = [invoke(1, 0, [w('a', 'x1')]), ok(1, 30, { a: 2 }), invoke(0, 20, [w('a', 'x0')]), ok(0, 25, { a: 1 })]
  t.same(checkRun(foldHistory(overlapping), [replica('p1', { a: { value: 'x1', version: 2 } })]).violations, [])
})

t.test('a trace holds only the operations within a second of the offender', async (t) => {
  const history = [invoke(0, 0, [w('a', 'x0')]), ok(0, 10, { a: 1 }), invoke(1, 5000, [w('a', 'x1')]), ok(1, 5010, { a: 2 }), invoke(2, 9000, [w('a', 'x2')]), fail(2, 9010)]
  const r = checkRun(foldHistory(history), [replica('p1', { a: { value: 'x0', version: 1 } })])
  t.match(r.violations, [{ code: 'lost-commit', op: 1, trace: [/>> op 1 .*invoke/, />> op 1 committed/] }])
  t.equal(r.violations[0]?.trace?.length, 2)
})

t.test('answers other than 200: a 503 is counted as busy; any other 5xx, or a 4xx to a well-formed request, fails the run', async (t) => {
  const history: HistoryEvent[] = [
    ...clean,
    invoke(6, 140, [w('e', 'v6')]),
    { type: 'rejected', t: 145, n: 6, status: 503, code: 'overloaded' },
    { type: 'rejected', t: 146, n: 6, status: 500, code: 'internal' },
    { type: 'rejected', t: 147, n: 6, status: 400, code: 'bad_request' },
    fail(6, 150),
  ]
  const report = checkRun(foldHistory(history), [replica('p1', cleanEntries), replica('p2', cleanEntries)])
  t.same(codes(report), ['server-error', 'request-refused'])
  t.match(report.violations[0]!.detail, /op 6 got 500 internal/)
  t.same(report.counts.rejectedBy, { '503 overloaded': 1, '500 internal': 1, '400 bad_request': 1 })
  const busyOnly = checkRun(foldHistory([...clean, invoke(6, 140, [w('e', 'v6')]), { type: 'rejected', t: 145, n: 6, status: 503, code: 'shutting_down' }, fail(6, 150)]), [replica('p1', cleanEntries)])
  t.same(codes(busyOnly), [], 'a 503 alone is no violation')
})

t.test("client-id claims: on the replicas exactly for the committed operations' ids, once, under the txId the client was told", async (t) => {
  const records = foldHistory(clean)
  const claim = (id: string, txId: string, version = 1) => ({ [claimKey(id)]: { value: claimValue({ txId, digest: 'd' }), version } })
  const check = (reserved: ReplicaState['entries']) => codes(checkRun(records, [replica('p1', cleanEntries, { reserved }), replica('p2', cleanEntries, { reserved })]))
  t.same(check({ ...claim('op0', '1.0'), ...claim('op3', '1.3'), ...claim('op4', '1.4') }), [], 'committed ops, their own txIds: nothing to report')
  t.same(check(claim('op1', '1.1')), ['client-id-claim'], 'an aborted operation holds a claim')
  t.same(check(claim('op5', '1.5')), ['client-id-claim'], 'an operation that never started holds one')
  t.same(check(claim('op0', '2.9')), ['client-id-claim'], 'claimed by a transaction its client was not told')
  t.same(check(claim('op0', '1.0', 2)), ['client-id-claim'], 'claimed twice')
  t.same(check(claim('nobody', '1.0')), ['client-id-claim'], 'an id no operation used')
  t.same(check({ '\u0000other': { value: 'x', version: 1 } }), ['client-id-claim'], 'a reserved key that is no claim')
  t.same(codes(checkRun(records, [replica('p1', cleanEntries, { reserved: claim('op0', '1.0') }), replica('p2', cleanEntries)])), ['replicas-differ'], 'a claim on one replica only')
  const unknown = foldHistory([...clean, invoke(6, 600, [w('e', 'v6')]), { type: 'info', t: 610, n: 6, error: 'TimeoutError' }])
  const claimsOf = (report: ReturnType<typeof checkRun>) => codes(report).filter((c) => c === 'client-id-claim')
  t.same(claimsOf(checkRun(unknown, [replica('p1', cleanEntries, { reserved: claim('op6', '1.6') })])), [], 'an operation whose outcome is unknown may hold a claim, under any txId')
})

t.test('a commit answered without its versions (a claim at another coordinator) fills a version no other commit explains', async (t) => {
  // op 9 was cut off from its coordinator; its retry elsewhere learned "committed" from the id's claim, without versions.
  const claimed = (n: number, at: number): HistoryEvent => ({ type: 'ok', t: at, n, txId: `c1:1.${n}`, attempts: 2 })
  const history = [...clean, invoke(9, 200, [w('a', 'v9'), w('e', 'v9')]), { type: 'info' as const, t: 205, n: 9, error: 'ECONNREFUSED' }, claimed(9, 210)]
  const after = { ...cleanEntries, a: { value: 'v9', version: 3 }, e: { value: 'v9', version: 1 } }
  t.same(checkRun(foldHistory(history), [replica('p1', after), replica('p2', after)]).violations, [], 'v3 of a and v1 of e are op 9s')
  t.match(codes(checkRun(foldHistory(history), [replica('p1', { ...cleanEntries, e: { value: 'v9', version: 1 } })])), ['lost-commit'], 'its write of a never applied: no gap for it')
  t.match(checkRun(foldHistory(history), [replica('p1', { ...after, a: { value: 'v9', version: 4 } })]).violations, [{ code: 'unexplained-version', detail: /version 4 is on the replicas/ }], 'one commit explains one version, not two')
  t.match(checkRun(foldHistory(history), [replica('p1', { ...after, a: { value: 'v2', version: 3 } })]).violations, [{ code: 'wrong-final-value', detail: /"v2" at version 3, which no commit without a known version wrote/ }])
})

t.test('deletes: a delete takes a version, a key created again starts above it, and the replicas must not hold a deleted key', async (t) => {
  const del = (key: string, extra: Partial<HistoryWrite> = {}): HistoryWrite => ({ key, delete: true, ...extra })
  // a: put v1, deleted at v2, created again (ifAbsent) at v3 (its floor was 2), deleted at v4. b: deleted while absent (v1), then put at v2.
  const history: HistoryEvent[] = [
    invoke(0, 0, [w('a', 'x0')]), ok(0, 5, { a: 1 }),
    invoke(1, 10, [del('a', { ifVersion: 1 })]), ok(1, 15, { a: 2 }),
    invoke(2, 20, [w('a', 'x2', { ifAbsent: true }), del('b')]), ok(2, 25, { a: 3, b: 1 }),
    invoke(3, 30, [w('b', 'x3', { ifVersion: 0 })]), ok(3, 35, { b: 2 }),
  ]
  const live = { a: { value: 'x2', version: 3 }, b: { value: 'x3', version: 2 } }
  t.same(checkRun(foldHistory(history), [replica('p1', live), replica('p2', live)]).violations, [])
  const ended = [...history, invoke(4, 40, [del('a')]), ok(4, 45, { a: 4 })]
  t.same(checkRun(foldHistory(ended), [replica('p1', { b: live.b })]).violations, [], 'after the last delete the key is gone')
  t.match(checkRun(foldHistory(ended), [replica('p1', live)]).violations, [{ code: 'lost-delete', op: 4, key: 'a', detail: /op 4 deleted it at version 4, but the replicas still hold "x2" at version 3/ }])
  t.match(checkRun(foldHistory(ended), [replica('p1', { ...live, a: { value: 'x0', version: 1 } })]).violations, [{ code: 'resurrected-key', op: 1, key: 'a', detail: /hold "x0" at version 1, a life that op 1 ended at version 2; op 4 deleted it again at version 4/ }])
  t.match(checkRun(foldHistory(ended), [replica('p1', { ...live, a: { value: 'zz', version: 7 } })]).violations, [{ code: 'foreign-value' }, { code: 'unexplained-version', detail: /version 7/ }, { code: 'wrong-final-value', detail: /after op 4 deleted it at version 4/ }])
  const broken = [...history, invoke(5, 50, [w('b', 'x5', { ifAbsent: true })]), ok(5, 55, { b: 3 })]
  t.match(checkRun(foldHistory(broken), [replica('p1', { ...live, b: { value: 'x5', version: 3 } })]).violations, [{ code: 'precondition-broken', op: 5, detail: /required b absent but committed version 3 right after op 3 wrote version 2/ }])
})

t.test('deletes: versions skipped where a life may begin need no writer, but may be filled by a commit without a known version', async (t) => {
  const del = (key: string): HistoryWrite => ({ key, delete: true })
  const claimed = (n: number, at: number): HistoryEvent => ({ type: 'ok', t: at, n, txId: `c1:1.${n}`, attempts: 2 })
  // No delete in c's bucket this run, and its floor is 0: its first life begins at 1, so a first write at 2 leaves 1 unexplained.
  t.match(checkRun(foldHistory([invoke(0, 0, [w('c', 'y0')]), ok(0, 5, { c: 2 })]), [replica('p1', { c: { value: 'y0', version: 2 } })]).violations, [{ code: 'unexplained-version', detail: /version 1 is on the replicas/ }])
  // A delete in the run of a key of c's bucket moves c's floor: then its first write may start higher.
  let i = 0
  while (floorKey(`d${i}`) !== floorKey('c')) i++
  const d = `d${i}`
  const moved = [invoke(0, 0, [w('c', 'y0'), del(d)]), ok(0, 5, { c: 2, [d]: 4 })]
  t.same(checkRun(foldHistory(moved), [replica('p1', { c: { value: 'y0', version: 2 } })]).violations, [])
  // After a delete, a commit without a known version may have made the next life.
  const after = [...moved, invoke(1, 10, [w(d, 'y1')]), claimed(1, 15)]
  const final = { c: { value: 'y0', version: 2 }, [d]: { value: 'y1', version: 9 } }
  t.same(checkRun(foldHistory(after), [replica('p1', final)]).violations, [])
  // In a bucket no delete of the run moved, two commits cannot hide in one version.
  t.match(codes(checkRun(foldHistory([invoke(0, 0, [w('c', 'y0')]), claimed(0, 5), invoke(1, 10, [w('c', 'y1')]), claimed(1, 15)]), [replica('p1', { c: { value: 'y1', version: 1 } })])), ['lost-commit'])
  // A delete without a known version may end a key after its last known write.
  t.same(checkRun(foldHistory([invoke(0, 0, [w('e', 'y0')]), ok(0, 5, { e: 1 }), invoke(1, 10, [del('e')]), claimed(1, 15)]), [replica('p1', {})]).violations, [])
  // A key no known commit wrote, created by a commit without a known version, with a floor the run moved.
  const unknownOnly = [invoke(0, 0, [w('c', 'y0'), del(d)]), claimed(0, 5)]
  t.same(checkRun(foldHistory(unknownOnly), [replica('p1', { c: { value: 'y0', version: 5 } })]).violations, [])
})

t.test('deletes: a floor an earlier run raised is read from the replicas, and is no client-id claim', async (t) => {
  const reserved = { [floorKey('c')]: { value: '', version: 3 } }
  t.same(checkRun(foldHistory([invoke(0, 0, [w('c', 'y0')]), ok(0, 5, { c: 4 })]), [replica('p1', { c: { value: 'y0', version: 4 } }, { reserved })]).violations, [])
  t.match(checkRun(foldHistory([invoke(0, 0, [w('c', 'y0')]), ok(0, 5, { c: 5 })]), [replica('p1', { c: { value: 'y0', version: 5 } }, { reserved })]).violations, [{ code: 'unexplained-version', detail: /version 4 is on the replicas/ }])
})
