import WebSocket from 'ws'

type Message = Record<string, unknown> & { type: string }

/**
 * A test's own end of a peer link, speaking the frame format by hand: it can
 * play the coordinator towards a real participant, send what no real node
 * would, and wait for the messages it expects.
 */
export class PeerClient {
  /** Every message received, frame by frame. */
  readonly frames: Message[][] = []
  private readonly waiters = new Set<() => void>()

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(JSON.parse(data.toString()) as Message[])
      for (const wake of this.waiters) wake()
    })
  }

  /** Dials `url` with the token; resolves with the HTTP status when refused, or the open client. */
  static async open(url: string, token: string, options: { autoPong?: boolean } = {}): Promise<{ status: number; body?: unknown; client?: PeerClient }> {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, autoPong: options.autoPong ?? true })
    return new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => { text += chunk.toString() })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text === '' ? undefined : JSON.parse(text) }) })
      })
      ws.on('open', () => { resolve({ status: 101, client: new PeerClient(ws) }) })
      ws.on('error', () => undefined)
    })
  }

  get messages(): Message[] {
    return this.frames.flat()
  }

  send(messages: unknown[]): void {
    this.ws.send(JSON.stringify(messages))
  }

  sendRaw(frame: string): void {
    this.ws.send(frame)
  }

  /** The first message (from the start of the link) that matches, once it has come. */
  async next(match: (m: Message) => boolean, timeoutMs = 10000): Promise<Message> {
    const found = (): Message | undefined => this.messages.find(match)
    const now = found()
    if (now) return now
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake)
        reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.frames).slice(0, 500)}`))
      }, timeoutMs)
      const wake = (): void => {
        const m = found()
        if (!m) return
        clearTimeout(timer)
        this.waiters.delete(wake)
        resolve(m)
      }
      this.waiters.add(wake)
    })
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return
    const closed = new Promise((ok) => this.ws.once('close', ok))
    this.ws.terminate()
    await closed
  }
}
