import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Writable } from 'node:stream'
import { Agent } from 'undici'
import { LinkProxy } from './link-proxy.ts'
import { claimPort } from './port-claims.ts'
import { pipePretty, prettyLines } from './pretty-logs.ts'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface NodeSpec {
  name: string
  role: 'coordinator' | 'participant'
  port: number
  dataDir: string
  env: Record<string, string>
}

/** What the global fetch takes as `dispatcher` (undici-types' Dispatcher; the npm undici's Agent is one at run time). */
export type Dispatcher = NonNullable<RequestInit['dispatcher']>

export interface ClusterOptions {
  dataRoot: string
  participants?: number
  /** How many coordinators: one is named `coordinator`; several are c1…cK, each a transaction's own coordinator for those it starts. */
  coordinators?: number
  token?: string
  /** Extra environment for every node, or per node name. */
  env?: Record<string, string>
  nodeEnv?: Record<string, Record<string, string>>
  /**
   * 'inherit' streams JSON logs to this process; 'pretty' writes them to
   * `prettyTo` (this process's stdout by default) through pino-pretty, one
   * line at a time; default ('file') writes <dataRoot>/<node>.log.
   */
  logs?: 'inherit' | 'pretty' | 'file'
  prettyTo?: Writable
  /**
   * Per node name, a cgroup's `cgroup.procs` file: the node is started inside
   * that group (a shell joins it, then execs node), so that everything it
   * ever allocates is charged there (bench --memory-limit).
   */
  cgroupProcs?: Record<string, string>
  host?: string
  basePort?: number
  /**
   * Route every coordinator → participant link through a relay, so that nodes
   * can be partitioned (see `partition`). Off by default: one hop less.
   */
  partitionable?: boolean
  /**
   * TLS: a directory made by `npm run certs` holding ca.crt and <node>.crt,
   * <node>.key for every node. Each node gets TLS_CERT, TLS_KEY and TLS_CA;
   * URLs are https://, and this process's probes trust that CA.
   */
  tlsDir?: string
}

/**
 * A free TCP port for a node to bind later. Port 0 would give one from the
 * ephemeral range, where every outgoing connection (a client's fetch, a
 * coordinator dialling) also takes its source port: between our check and
 * the node's bind, one of them could take it, and the node would fail with
 * EADDRINUSE. So the port is drawn below that range (which outgoing
 * connections never use), checked free, and never handed out twice by this
 * process, nor by any other process on this machine while the one that
 * took it lives: tests run in parallel processes (tap's jobs), and one of
 * them once drew a port another had checked and not yet bound (CI:
 * EADDRINUSE at a participant's start). Each port handed out is claimed
 * with a file created exclusively (port-claims.ts), naming the claiming
 * process; a claim whose process is gone is taken over.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = LOW_PORT + Math.floor(Math.random() * (HIGH_PORT - LOW_PORT))
    if (handedOut.has(port) || !claimPort(port)) continue
    if (await canListen(port, host)) {
      handedOut.add(port)
      return port
    }
  }
}

/** Below Linux's default ephemeral range (32768-60999), above the registered services that run here. */
const LOW_PORT = 20000
const HIGH_PORT = 32000
const handedOut = new Set<number>()

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((ok) => {
    const server = createServer()
    server.once('error', () => { ok(false) })
    server.listen(port, host, () => {
      server.close(() => { ok(true) })
    })
  })
}

/**
 * A coordinator and N participants as separate OS processes on 127.0.0.1,
 * each with its own LevelDB directory. Nodes can be killed (SIGKILL), frozen
 * (SIGSTOP/SIGCONT) and restarted on the same port and data.
 */
export class LocalCluster {
  readonly nodes = new Map<string, NodeSpec>()
  private readonly procs = new Map<string, ChildProcess>()
  private readonly logStreams = new Map<string, WriteStream>()
  /** Per coordinator and participant, the relay the coordinator dials instead of the participant (partitionable clusters). */
  private readonly links = new Map<string, { coordinator: string; participant: string; proxy: LinkProxy }>()
  private readonly partitioned = new Set<string>()
  /** logs: 'pretty': one formatter for every node (made at the first launch). */
  private prettyFormat: ((line: string) => string) | undefined
  readonly token: string
  readonly host: string
  /** TLS: the client that trusts the cluster's CA (pass it to fetch as `dispatcher`). */
  readonly dispatcher: Dispatcher | undefined

  private constructor(readonly options: ClusterOptions) {
    this.token = options.token ?? 'local-cluster-token'
    this.host = options.host ?? '127.0.0.1'
    this.dispatcher = options.tlsDir === undefined ? undefined : (new Agent({ connect: { ca: readFileSync(join(options.tlsDir, 'ca.crt')) } }) as unknown as Dispatcher)
  }

  static async create(options: ClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options)
    const count = options.participants ?? 3
    const port = async (i: number): Promise<number> => (options.basePort === undefined ? freePort(cluster.host) : options.basePort + i)
    const participantNames = Array.from({ length: count }, (_, i) => `p${i + 1}`)
    for (const [i, name] of participantNames.entries()) {
      cluster.nodes.set(name, { name, role: 'participant', port: await port(i + 1), dataDir: join(options.dataRoot, name), env: {} })
    }
    const coordinators = options.coordinators ?? 1
    const coordinatorNames = coordinators === 1 ? ['coordinator'] : Array.from({ length: coordinators }, (_, i) => `c${i + 1}`)
    for (const [i, name] of coordinatorNames.entries()) {
      // Ports below the first participant's stay BASE_PORT for the first coordinator; the others go after the participants.
      const index = i === 0 ? 0 : count + i
      cluster.nodes.set(name, { name, role: 'coordinator', port: await port(index), dataDir: join(options.dataRoot, name), env: {} })
    }
    if (options.partitionable === true) {
      for (const coordinator of coordinatorNames) {
        for (const participant of participantNames) {
          const proxy = await LinkProxy.start(cluster.host, () => cluster.spec(participant).port)
          cluster.links.set(linkKey(coordinator, participant), { coordinator, participant, proxy })
        }
      }
    }
    return cluster
  }

  get participantNames(): string[] {
    return [...this.nodes.values()].filter((n) => n.role === 'participant').map((n) => n.name)
  }

  get coordinatorNames(): string[] {
    return [...this.nodes.values()].filter((n) => n.role === 'coordinator').map((n) => n.name)
  }

  /** The first coordinator's URL (the only one's, in a cluster of one). */
  get url(): string {
    return this.urlOf(this.coordinatorNames[0]!)
  }

  urlOf(name: string): string {
    return `${this.options.tlsDir === undefined ? 'http' : 'https'}://${this.host}:${this.spec(name).port}`
  }

  spec(name: string): NodeSpec {
    const spec = this.nodes.get(name)
    if (!spec) throw new Error(`no node ${name}`)
    return spec
  }

  /** The OS process id of a running node (benchmarks read its CPU and memory from /proc). */
  pid(name: string): number | undefined {
    return this.isRunning(name) ? this.procs.get(name)?.pid : undefined
  }

  isRunning(name: string): boolean {
    const p = this.procs.get(name)
    return p?.exitCode === null && p.signalCode === null
  }

  envOf(name: string): Record<string, string> {
    const spec = this.spec(name)
    const tls = this.options.tlsDir === undefined ? {} : { TLS_CERT: join(this.options.tlsDir, `${name}.crt`), TLS_KEY: join(this.options.tlsDir, `${name}.key`), TLS_CA: join(this.options.tlsDir, 'ca.crt') }
    const common = { CLUSTER_TOKEN: this.token, DATA_DIR: spec.dataDir, LOG_LEVEL: 'info', ...tls, ...this.options.env, ...this.options.nodeEnv?.[name], ...spec.env }
    if (spec.role === 'participant') {
      // Every participant, in configuration order: Paxos Commit's acceptors dial each other directly (2PC ignores it).
      const peers = this.participantNames.map((p) => `${p}=ws://${this.host}:${this.spec(p).port}`).join(',')
      return { PEERS: peers, COORDINATORS: this.coordinatorNames.join(','), ...common, PARTICIPANT_ID: spec.name, PARTICIPANT_HOST: this.host, PARTICIPANT_PORT: String(spec.port) }
    }
    const participants = this.participantNames.map((p) => `${p}=ws://${this.host}:${this.links.get(linkKey(spec.name, p))?.proxy.port ?? this.spec(p).port}/v1/peer`).join(',')
    return { COORDINATOR_ID: spec.name, COORDINATORS: this.coordinatorNames.join(','), ...common, COORDINATOR_HOST: this.host, COORDINATOR_PORT: String(spec.port), PARTICIPANTS: participants }
  }

  async startAll(): Promise<void> {
    for (const name of this.participantNames) this.launch(name)
    for (const name of this.coordinatorNames) this.launch(name)
    await this.waitReady()
  }

  /** Starts a node process (no wait). */
  launch(name: string): ChildProcess {
    if (this.isRunning(name)) throw new Error(`${name} is already running`)
    const spec = this.spec(name)
    mkdirSync(spec.dataDir, { recursive: true })
    const inherit = this.options.logs === 'inherit'
    const pretty = this.options.logs === 'pretty'
    const procs = this.options.cgroupProcs?.[name]
    // In a cgroup: the shell writes its own pid (which exec keeps for node) into the group before node starts.
    const [command, args] = procs === undefined ? [process.execPath, nodeArgs(spec.role)] : ['/bin/sh', ['-c', 'echo $$ > "$TXN_CGROUP_PROCS" && exec "$@"', 'sh', process.execPath, ...nodeArgs(spec.role)]]
    const child = spawn(command, args, {
      cwd: repoRoot,
      env: { ...productionEnv(), ...this.envOf(name), ...(procs === undefined ? {} : { TXN_CGROUP_PROCS: procs }) },
      stdio: ['ignore', inherit ? 'inherit' : 'pipe', inherit ? 'inherit' : 'pipe'],
    })
    if (pretty) {
      const out = this.options.prettyTo ?? process.stdout
      this.prettyFormat ??= prettyLines(out === process.stdout && process.stdout.isTTY)
      for (const from of [child.stdout, child.stderr]) if (from) pipePretty(from, out, this.prettyFormat)
    } else if (!inherit) {
      let stream = this.logStreams.get(name)
      if (!stream) {
        stream = createWriteStream(join(this.options.dataRoot, `${name}.log`), { flags: 'a' })
        this.logStreams.set(name, stream)
      }
      child.stdout?.pipe(stream, { end: false })
      child.stderr?.pipe(stream, { end: false })
    }
    this.procs.set(name, child)
    return child
  }

  async start(name: string): Promise<void> {
    this.launch(name)
    await this.waitNode(name)
  }

  /** SIGKILL: no cleanup, no flush. Resolves once the process is gone. */
  async kill(name: string): Promise<void> {
    const child = this.procs.get(name)
    if (!child || !this.isRunning(name)) return
    const exited = new Promise((ok) => child.once('exit', ok))
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await exited
  }

  pause(name: string): void {
    this.procs.get(name)?.kill('SIGSTOP')
  }

  resume(name: string): void {
    this.procs.get(name)?.kill('SIGCONT')
  }

  /**
   * Cuts a node off: a participant from every coordinator, a coordinator from
   * every participant (clients still reach its HTTP port, as clients on the
   * coordinator's side of the cut would). Needs `partitionable`. Peer links
   * between participants (Paxos Commit) are not cut.
   */
  partition(name: string): void {
    this.spec(name)
    if (this.links.size === 0) throw new Error('this cluster was not created partitionable')
    this.partitioned.add(name)
    this.applyPartitions()
  }

  heal(name: string): void {
    this.partitioned.delete(name)
    this.applyPartitions()
  }

  isPartitioned(name: string): boolean {
    return this.partitioned.has(name)
  }

  private applyPartitions(): void {
    for (const { coordinator, participant, proxy } of this.links.values()) {
      const cut = this.partitioned.has(participant) || this.partitioned.has(coordinator)
      if (cut && !proxy.isCut) proxy.partition()
      if (!cut && proxy.isCut) proxy.heal()
    }
  }

  /** Waits until the process exits on its own (e.g. a failpoint crash). */
  /** Waits until the node's process has exited; resolves with how it ended (undefined if it was not started here). */
  async waitExit(name: string, timeoutMs = 30000): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
    const child = this.procs.get(name)
    if (!child) return undefined
    if (!this.isRunning(name)) return { code: child.exitCode, signal: child.signalCode }
    return new Promise((ok, fail) => {
      const timer = setTimeout(() => { fail(new Error(`${name} did not exit within ${timeoutMs} ms`)) }, timeoutMs)
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        ok({ code, signal })
      })
    })
  }

  async waitNode(name: string, timeoutMs = NODE_START_TIMEOUT_MS): Promise<void> {
    const path = this.spec(name).role === 'coordinator' ? '/healthz' : '/readyz'
    let last = 'no answer yet'
    try {
      await waitFor(async () => {
        last = await describeProbe(`${this.urlOf(name)}${path}`, this.dispatcher)
        return last.startsWith('200 ')
      }, timeoutMs, `${name} to be up`)
    } catch (err) {
      // A node that never came up: what it last answered, and what it last logged, for the failure's reader.
      throw new Error(`${(err as Error).message} (running: ${this.isRunning(name)}; last ${path}: ${last}; its log ends with: ${this.logTail(name, 5)})`)
    }
  }

  /** The last lines of a node's log file ('' when its logs go to the terminal). */
  logTail(name: string, lines: number): string {
    try {
      return readFileSync(join(this.options.dataRoot, `${name}.log`), 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
    } catch {
      return ''
    }
  }

  async waitReady(timeoutMs = NODE_START_TIMEOUT_MS): Promise<void> {
    for (const name of this.participantNames) await this.waitNode(name, timeoutMs)
    for (const name of this.coordinatorNames) {
      await waitFor(async () => (await probe(`${this.urlOf(name)}/readyz`, this.dispatcher)) === 200, timeoutMs, `${name} to be ready`)
    }
  }

  async stopAll(): Promise<void> {
    // Measuring coverage (scripts/services-coverage.sh): a node writes it only on a clean exit.
    if (process.env.TXN_NODE_COVERAGE !== undefined) return this.terminateAll()
    await Promise.all([...this.procs.keys()].map(async (name) => this.kill(name)))
    await this.releaseResources()
  }

  /** The link relays and the log files, once every node is gone. */
  private async releaseResources(): Promise<void> {
    await Promise.all([...this.links.values()].map(async ({ proxy }) => proxy.close()))
    this.links.clear()
    for (const stream of this.logStreams.values()) stream.end()
    this.logStreams.clear()
  }

  /** Graceful stop (SIGTERM), used by `npm start` on Ctrl-C. */
  async terminateAll(): Promise<void> {
    await Promise.all(
      [...this.procs.entries()].map(async ([name, child]) => {
        if (!this.isRunning(name)) return
        const exited = new Promise((ok) => child.once('exit', ok))
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        await exited
      }),
    )
    await this.releaseResources()
  }
}

/**
 * How long a node may take to be up and ready. Generous: under the coverage
 * run (every node writing V8 coverage) on a loaded 2-core machine, a
 * coordinator once took over 30 s to see every participant (CI, fuzz-http).
 */
const NODE_START_TIMEOUT_MS = 90_000

/**
 * Nodes are separate programs: keep test runners' hooks (tap's coverage
 * tracker in NODE_OPTIONS, V8 coverage output) out of them, so they run as in
 * production whoever starts them.
 */
export function productionEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  // scripts/services-coverage.sh: the nodes write V8 coverage there (on a clean exit; a SIGKILLed node writes none).
  if (process.env.TXN_NODE_COVERAGE !== undefined) env.NODE_V8_COVERAGE = process.env.TXN_NODE_COVERAGE
  return env
}

/**
 * How a node is run: from the TypeScript sources through tsx (default), or
 * from the tsc build in dist/ with TXN_RUNTIME=dist (twice as fast to start;
 * `npm test` builds first and uses it).
 */
export function nodeArgs(role: 'coordinator' | 'participant' | 'replica', runtime = process.env.TXN_RUNTIME): string[] {
  // Extra node flags for every node, e.g. TXN_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const flags = (process.env.TXN_NODE_FLAGS ?? '').split(' ').filter(Boolean)
  return [...flags, ...entryArgs(role, runtime)]
}

function entryArgs(role: 'coordinator' | 'participant' | 'replica', runtime: string | undefined): string[] {
  if (runtime === 'dist') return ['--enable-source-maps', join(repoRoot, 'dist', 'services', role, 'main.js')]
  return ['--import', 'tsx', join(repoRoot, 'services', role, 'main.ts')]
}

export async function probe(url: string, dispatcher?: Dispatcher): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000), ...(dispatcher ? { dispatcher } : {}) })
    await res.arrayBuffer()
    return res.status
  } catch {
    return 0
  }
}

/** One probe, described: `200 {body}`, `503 {body}`, or the error that stopped it (e.g. a timeout). */
async function describeProbe(url: string, dispatcher?: Dispatcher): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000), ...(dispatcher ? { dispatcher } : {}) })
    return `${res.status} ${(await res.text()).slice(0, 200)}`
  } catch (err) {
    return `no answer: ${(err as Error).message}`
  }
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((ok) => setTimeout(ok, 50))
  }
}

function linkKey(coordinator: string, participant: string): string {
  return `${coordinator}>${participant}`
}
