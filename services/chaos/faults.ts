/** The faults the chaos sidecar injects, and the record it keeps of them. */
export const faultKinds = ['kill', 'pause', 'partition'] as const
export type FaultKind = (typeof faultKinds)[number]

export const nodeRoles = ['coordinator', 'participant'] as const
export type NodeRole = (typeof nodeRoles)[number]

export interface ClusterNode {
  /** The node's name in the cluster: `coordinator`, `p1`, `p2`, … (the same locally and under compose). */
  name: string
  role: NodeRole
}

/** Who asked for a fault: the HTTP API or the seeded random schedule. */
export type FaultSource = 'api' | 'schedule'

export interface Fault {
  id: string
  kind: FaultKind
  node: string
  source: FaultSource
  startedAt: string
  /** When the fault heals by itself; absent: it lasts until healed through the API. */
  healAt?: string
  /**
   * A kill for good: the node is gone like a machine that died. A heal of
   * every fault leaves it down (`POST /v1/heal?all=true` or healing its id
   * brings it back, as a replacement machine would).
   */
  permanent?: boolean
}

/** One line of the fault log, kept for the run's report. */
export interface ChaosEvent {
  at: string
  event: 'fault' | 'heal'
  id: string
  kind: FaultKind
  node: string
  source: FaultSource
  /** Set when the action failed (the fault stays active and can be healed again). */
  error?: string
}

/**
 * What the chaos engine acts on: the compose project's containers through the
 * Docker Engine API, or the local process cluster. Each call resolves when
 * the action is done (a restarted node is started, not necessarily ready).
 */
export interface ClusterTarget {
  readonly kind: 'docker' | 'local'
  nodes(): Promise<ClusterNode[]>
  /** SIGKILL; the node stays down until `restart`. */
  kill(node: string): Promise<void>
  restart(node: string): Promise<void>
  /** Freeze every thread of the node (SIGSTOP / cgroup freezer), like a long GC pause. */
  pause(node: string): Promise<void>
  unpause(node: string): Promise<void>
  /** Cut the node off from its peers; in flight data is lost, not delivered later. */
  disconnect(node: string): Promise<void>
  reconnect(node: string): Promise<void>
}
