import { connect, createServer, type Server, type Socket } from 'node:net'

interface Pair {
  client: Socket
  upstream?: Socket
  /** Cut by a partition: bytes in either direction are dropped, as on a dead network path. */
  blackholed: boolean
}

/**
 * A TCP relay in front of one participant's peer port, so that the local
 * cluster can be partitioned without Docker: while cut, every byte on the
 * link is silently dropped (no FIN, no RST), as when a cable is pulled, and
 * the peers find out only through their heartbeats. Healing closes the dead
 * connections (their streams lost bytes) and lets new ones through.
 */
export class LinkProxy {
  private readonly pairs = new Set<Pair>()
  private cut = false

  private readonly server: Server
  port = 0

  private constructor(host: string, upstreamPort: () => number) {
    this.server = createServer((client) => { this.accept(client, host, upstreamPort()) })
  }

  static async start(host: string, upstreamPort: () => number): Promise<LinkProxy> {
    const proxy = new LinkProxy(host, upstreamPort)
    proxy.port = await new Promise<number>((ok, fail) => {
      proxy.server.once('error', fail)
      proxy.server.listen(0, host, () => {
        const address = proxy.server.address()
        ok(typeof address === 'object' && address ? address.port : 0)
      })
    })
    return proxy
  }

  get isCut(): boolean {
    return this.cut
  }

  partition(): void {
    this.cut = true
    for (const pair of this.pairs) pair.blackholed = true
  }

  heal(): void {
    this.cut = false
    for (const pair of this.pairs) if (pair.blackholed) this.drop(pair)
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.drop(pair)
    await new Promise((ok) => this.server.close(ok))
  }

  private accept(client: Socket, host: string, port: number): void {
    const pair: Pair = { client, blackholed: this.cut }
    this.pairs.add(pair)
    // While cut, a close on one side must not reach the other (no FIN crosses a
    // partition): the pair is dropped at heal.
    const closed = (): void => { if (!pair.blackholed) this.drop(pair) }
    client.on('error', closed)
    client.on('close', closed)
    if (pair.blackholed) {
      client.on('data', () => undefined) // swallow: the other side is unreachable
      return
    }
    const upstream = connect(port, host)
    pair.upstream = upstream
    upstream.on('error', closed)
    upstream.on('close', closed)
    relay(pair, client, upstream)
    relay(pair, upstream, client)
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return
    pair.client.destroy()
    pair.upstream?.destroy()
  }
}

/** Copies from → to with back-pressure, unless the pair has been cut. */
function relay(pair: Pair, from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (pair.blackholed) return
    if (!to.write(chunk)) {
      from.pause()
      to.once('drain', () => from.resume())
    }
  })
}
