/**
 * Named crash points in the style of etcd's gofail. Inert unless switched on:
 *   TXN_FAILPOINTS="participant.afterPrepareLoggedBeforeVote=crash"
 *   TXN_FAILPOINTS="coordinator.midCommitFanout=crash@3"   (crash on the 3rd hit)
 * "crash" kills the process on the spot with SIGKILL: no cleanup, no flush.
 */
export const failpointNames = [
  'coordinator.beforeDecisionLogged',
  'coordinator.afterDecisionLogged',
  'coordinator.afterReplyBeforeCommitSent',
  'coordinator.midCommitFanout',
  'coordinator.beforeEndLogged',
  'participant.beforePrepareLogged',
  'participant.afterPrepareLoggedBeforeVote',
  'participant.afterCommitReceivedBeforeApply',
  'participant.afterApplyBeforeAck',
  // Paxos Commit. A participant once its own ballot-0 2a has left for the other acceptors.
  'participant.afterOwnPhase2aSent',
  // An acceptor handed a 2a: before its acceptance is written, and once durable with no 2b sent.
  'acceptor.beforeAcceptLogged',
  'acceptor.afterAcceptLoggedBefore2b',
  // A recovery leader once its 1a has left (mid-phase-1), and once its 2a at its ballot has left (mid-phase-2).
  'leader.afterPhase1aSent',
  'leader.afterPhase2aSent',
  // Replica rebuild: the source once it has sent some records of its export; the rebuilding tool once it has
  // written some of them into its temporary copy.
  'participant.midReplicaExport',
  'rebuild.midImport',
  // Group commit (any node): a synced batch of at least two persist requests, before / after its write.
  'store.beforeGroupSync',
  'store.afterGroupSync',
] as const

export type FailpointName = (typeof failpointNames)[number]

export class Failpoints {
  private readonly armed = new Map<FailpointName, { hits: number; at: number }>()

  /** Throws with one clear line on an unknown name or action. */
  constructor(spec: string | undefined, private readonly onCrash: (name: FailpointName) => void = crashNow) {
    for (const part of (spec ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
      const match = /^([\w.]+)=crash(?:@(\d+))?$/.exec(part)
      const name = match?.[1] as FailpointName | undefined
      if (!match || !name || !failpointNames.includes(name)) {
        throw new Error(`TXN_FAILPOINTS: "${part}" is not <name>=crash[@N] with a known name (${failpointNames.join(', ')})`)
      }
      this.armed.set(name, { hits: 0, at: Number(match[2] ?? 1) })
    }
  }

  get active(): boolean {
    return this.armed.size > 0
  }

  /** Counts a hit; true when the point fires now (the caller then arranges what "crash here" means). */
  fires(name: FailpointName): boolean {
    const point = this.armed.get(name)
    if (!point) return false
    point.hits++
    return point.hits === point.at
  }

  hit(name: FailpointName): void {
    if (this.fires(name)) this.crash(name)
  }

  crash(name: FailpointName): void {
    this.onCrash(name)
  }
}

/* c8 ignore start -- kills the process; exercised by the failpoint integration tests */
function crashNow(name: FailpointName): void {
  process.stderr.write(`failpoint ${name}: crash\n`)
  process.kill(process.pid, 'SIGKILL')
}
/* c8 ignore stop */
