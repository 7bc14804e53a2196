import { WebSocket } from 'ws'
import { decodeToCoordinator } from '../../shared/protocol/codec.ts'
import { marks } from '../../shared/runtime/marks.ts'
import { limits, type ToCoordinator, type ToParticipant } from '../../shared/protocol/messages.ts'
import { Outbox } from '../../shared/net/outbox.ts'
import { rawDataToString } from '../../shared/net/raw-data.ts'
import type { Logger } from '../../shared/runtime/logger.ts'

export interface LinkEvents {
  connected: (participant: string) => void
  disconnected: (participant: string) => void
  message: (participant: string, msg: ToCoordinator) => void
}

const MIN_BACKOFF_MS = 50
const MAX_BACKOFF_MS = 500
const HEARTBEAT_MS = 2000
const HANDSHAKE_TIMEOUT_MS = 3000

/**
 * The coordinator's WebSocket to one participant. It presents the cluster
 * token, reconnects with capped exponential backoff, and treats the peer as
 * connected only after the participant's `hello` names the expected node.
 * A missed heartbeat (pong) terminates the socket, so a frozen peer is
 * noticed as a disconnection.
 */
export class ParticipantLink {
  private ws: WebSocket | undefined
  private backoffMs = MIN_BACKOFF_MS
  private ready = false
  private closed = false
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeat: NodeJS.Timeout | undefined
  private alive = true
  readonly outbox = new Outbox(() => (this.ready ? this.ws : undefined))

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly token: string,
    private readonly events: LinkEvents,
    private readonly logger: Logger,
  ) {}

  get isConnected(): boolean {
    return this.ready
  }

  start(): void {
    this.connect()
  }

  send(msg: ToParticipant): boolean {
    return this.outbox.push(msg)
  }

  close(): void {
    this.closed = true
    clearTimeout(this.reconnectTimer)
    clearInterval(this.heartbeat)
    this.ws?.terminate()
  }

  private connect(): void {
    const ws = new WebSocket(this.url, {
      headers: { authorization: `Bearer ${this.token}` },
      maxPayload: limits.maxFrameBytes,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    })
    this.ws = ws
    ws.on('message', (data, isBinary) => {
      this.onFrame(isBinary ? '' : rawDataToString(data))
    })
    ws.on('pong', () => {
      this.alive = true
    })
    ws.on('open', () => {
      this.alive = true
      this.heartbeat = setInterval(() => {
        if (!this.alive) {
          this.logger.warn({ participant: this.name }, 'participant missed a heartbeat; dropping the connection')
          ws.terminate()
          return
        }
        this.alive = false
        ws.ping()
      }, HEARTBEAT_MS)
    })
    ws.on('unexpected-response', (_req, res) => {
      this.logger.error({ participant: this.name, status: res.statusCode }, 'participant refused the connection')
      ws.terminate()
    })
    ws.on('error', (err) => {
      this.logger.debug({ participant: this.name, err: err.message }, 'participant connection error')
    })
    ws.on('close', () => {
      clearInterval(this.heartbeat)
      if (this.ws !== ws) return
      this.ws = undefined
      if (this.ready) {
        this.ready = false
        this.logger.warn({ participant: this.name }, 'participant disconnected')
        this.events.disconnected(this.name)
      }
      this.scheduleReconnect()
    })
  }

  private onFrame(data: string): void {
    const decoded = decodeToCoordinator(data)
    if (!decoded.ok) {
      this.logger.warn({ participant: this.name, code: 'bad_frame', error: decoded.error }, 'refused a malformed frame')
      return
    }
    marks.frame('recv', decoded.messages)
    for (const msg of decoded.messages) {
      if (msg.type === 'hello') {
        this.onHello(msg.participant)
      } else if (this.ready) {
        this.events.message(this.name, msg)
      }
    }
  }

  private onHello(participant: string): void {
    if (participant !== this.name) {
      this.logger.error({ participant: this.name, claimed: participant }, 'participant introduced itself under another name; check PARTICIPANTS')
      this.ws?.terminate()
      return
    }
    this.ready = true
    this.backoffMs = MIN_BACKOFF_MS
    this.logger.info({ participant: this.name }, 'participant connected')
    this.events.connected(this.name)
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS)
    this.reconnectTimer = setTimeout(() => {
      this.connect()
    }, delay)
  }
}
