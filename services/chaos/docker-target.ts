import { hostname } from 'node:os'
import type { DockerApi } from './docker-api.ts'
import type { ClusterNode, ClusterTarget, NodeRole } from './faults.ts'

/** Labels our compose file puts on every node container (the chaos container has none). */
export const nodeLabel = 'txn.node'
export const roleLabel = 'txn.role'
const projectLabel = 'com.docker.compose.project'

interface ContainerSummary {
  Id: string
  Labels: Record<string, string>
}

interface ContainerInspect {
  NetworkSettings: { Networks: Record<string, { NetworkID: string; Aliases: string[] | null }> }
}

interface Cut {
  networkId: string
  aliases: string[]
}

/**
 * The compose project's node containers, acted on through the Docker Engine
 * API. Containers are selected by the compose project label and our node
 * label, so nothing outside this cluster can ever be touched.
 */
export class DockerTarget implements ClusterTarget {
  readonly kind = 'docker'
  /** The networks a partitioned node was cut from, with its DNS aliases, to reconnect it as it was. */
  private readonly cuts = new Map<string, Cut[]>()

  constructor(
    private readonly api: DockerApi,
    readonly project: string,
  ) {}

  /**
   * The project is CHAOS_PROJECT when given; otherwise the compose project of
   * the container this sidecar runs in (its hostname is its container id).
   */
  static async discover(api: DockerApi, project?: string): Promise<DockerTarget> {
    if (project !== undefined && project !== '') return new DockerTarget(api, project)
    const self = (await api.expect('GET', `/containers/${encodeURIComponent(hostname())}/json`)) as { Config: { Labels: Record<string, string> | null } }
    const own = self.Config.Labels?.[projectLabel]
    if (own === undefined) throw new Error('not running in a compose project: set CHAOS_PROJECT')
    return new DockerTarget(api, own)
  }

  async nodes(): Promise<ClusterNode[]> {
    return (await this.containers()).map((c) => ({ name: c.Labels[nodeLabel] ?? '', role: (c.Labels[roleLabel] ?? 'participant') as NodeRole })).sort((a, b) => a.name.localeCompare(b.name))
  }

  async kill(node: string): Promise<void> {
    await this.api.expect('POST', `/containers/${await this.idOf(node)}/kill?signal=SIGKILL`)
  }

  async restart(node: string): Promise<void> {
    await this.api.expect('POST', `/containers/${await this.idOf(node)}/start`)
  }

  async pause(node: string): Promise<void> {
    await this.api.expect('POST', `/containers/${await this.idOf(node)}/pause`)
  }

  async unpause(node: string): Promise<void> {
    await this.api.expect('POST', `/containers/${await this.idOf(node)}/unpause`)
  }

  async disconnect(node: string): Promise<void> {
    const id = await this.idOf(node)
    const inspect = (await this.api.expect('GET', `/containers/${id}/json`)) as ContainerInspect
    const cuts = Object.values(inspect.NetworkSettings.Networks).map((n) => ({ networkId: n.NetworkID, aliases: n.Aliases ?? [] }))
    this.cuts.set(node, cuts)
    for (const cut of cuts) await this.api.expect('POST', `/networks/${cut.networkId}/disconnect`, { Container: id, Force: true })
  }

  async reconnect(node: string): Promise<void> {
    const id = await this.idOf(node)
    for (const cut of this.cuts.get(node) ?? []) {
      // The service name is among the aliases: peers find the node again by name.
      await this.api.expect('POST', `/networks/${cut.networkId}/connect`, { Container: id, EndpointConfig: { Aliases: cut.aliases.filter((a) => !id.startsWith(a)) } })
    }
    this.cuts.delete(node)
  }

  private async containers(): Promise<ContainerSummary[]> {
    const filters = JSON.stringify({ label: [`${projectLabel}=${this.project}`, nodeLabel] })
    return (await this.api.expect('GET', `/containers/json?all=1&filters=${encodeURIComponent(filters)}`)) as ContainerSummary[]
  }

  private async idOf(node: string): Promise<string> {
    const match = (await this.containers()).find((c) => c.Labels[nodeLabel] === node)
    if (!match) throw new Error(`no container for node ${node} in project ${this.project}`)
    return match.Id
  }
}
