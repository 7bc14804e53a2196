import { WebSocket } from 'ws'
import { decodeToCoordinator, encodeFrame } from '../../core/protocol/codec.ts'
import { marks } from '../runtime/marks.ts'
import { limits, type ToCoordinator, type ToParticipant } from '../../core/protocol/messages.ts'
import { Heartbeat } from './heartbeat.ts'
import { acceptedMessages } from './accepted-messages.ts'
import { linkMeter } from './link-meter.ts'
import { Outbox } from './outbox.ts'
import { isFrameTooLarge, rawDataToString } from './raw-data.ts'
import type { Logger } from '../runtime/logger.ts'
import { secureUrl, type TlsMaterial } from '../runtime/tls.ts'
import type { Admission, ReplicaClaim } from '../storage/replica-identity.ts'

export interface LinkEvents {
  connected: (participant: string) => void
  disconnected: (participant: string) => void
  message: (participant: string, msg: ToCoordinator) => void
  /** Checks the replica a hello names before the link is up (absent: every replica is admitted). */
  admit?: (participant: string, replica: ReplicaClaim | undefined) => Promise<Admission>
}

/** The close code of a connection whose replica was refused (WebSocket's private range, 4000-4999). */
export const REPLICA_REFUSED_CLOSE = 4009

export interface LinkOptions {
  minBackoffMs: number
  maxBackoffMs: number
  /** A missed pong in this interval drops the connection (a frozen or cut-off participant). */
  heartbeatMs: number
  /** The WebSocket opening handshake must finish within this. */
  handshakeTimeoutMs: number
  /** An open connection whose `hello` has not come within this is closed and dialled again. */
  helloTimeoutMs: number
  /** TLS: dial wss:// with this certificate, trusting only this CA (the participant checks ours against it too). */
  tls?: TlsMaterial
}

const DEFAULT_OPTIONS: LinkOptions = { minBackoffMs: 50, maxBackoffMs: 500, heartbeatMs: 2000, handshakeTimeoutMs: 3000, helloTimeoutMs: 3000 }

/**
 * The coordinator's WebSocket to one participant. It presents the cluster
 * token, reconnects with capped exponential backoff, and treats the peer as
 * connected only after the participant's `hello` names the expected node.
 * An open socket that never becomes ready (no `hello` within
 * `helloTimeoutMs`) is closed and dialled again, so a link can never stay
 * open but unusable. A missed heartbeat (pong) terminates the socket, so a
 * frozen peer is noticed as a disconnection. Each connection has its own
 * outbox: nothing queued for one connection can leave on the next.
 */
export class ParticipantLink {
  private ws: WebSocket | undefined
  private outbox: Outbox | undefined
  private readonly options: LinkOptions
  private backoffMs: number
  private ready = false
  /** Up at least once before: the next time it comes up is a reconnect. */
  private wasConnected = false
  private closed = false
  private reconnectTimer: NodeJS.Timeout | undefined
  private heartbeat: Heartbeat | undefined
  private helloTimer: NodeJS.Timeout | undefined
  /** The connection whose hello is being checked (admit): a repeated hello on it waits for that answer. */
  private admitting: WebSocket | undefined
  /** Connections closed because no `hello` came in time. */
  helloTimeouts = 0
  /** Messages refused one by one, and whole frames refused. */
  refusedMessages = 0
  refusedFrames = 0

  constructor(
    readonly name: string,
    private readonly url: string,
    private readonly token: string,
    private readonly events: LinkEvents,
    private readonly logger: Logger,
    options: Partial<LinkOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options }
    this.backoffMs = this.options.minBackoffMs
  }

  get isConnected(): boolean {
    return this.ready
  }

  start(): void {
    this.connect()
  }

  send(msg: ToParticipant): boolean {
    return this.outbox?.push(msg) ?? false
  }

  /** Hands what is queued to the socket now (a failpoint crashes right after a send). */
  flush(): void {
    this.outbox?.flush()
  }

  close(): void {
    this.closed = true
    clearTimeout(this.reconnectTimer)
    this.heartbeat?.stop()
    clearTimeout(this.helloTimer)
    this.ws?.terminate()
  }

  private connect(): void {
    const tls = this.options.tls
    const ws = new WebSocket(secureUrl(this.url, tls), {
      headers: { authorization: `Bearer ${this.token}` },
      ...(tls ? { cert: tls.cert, key: tls.key, ca: tls.ca } : {}),
      maxPayload: limits.maxFrameBytes,
      handshakeTimeout: this.options.handshakeTimeoutMs,
    })
    this.ws = ws
    let heartbeat: Heartbeat | undefined
    this.outbox = new Outbox(() => (this.ready && this.ws === ws ? ws : undefined), this.logger.child({ participant: this.name }), { peer: this.name })
    ws.on('message', (data, isBinary) => {
      heartbeat?.heardFrom()
      linkMeter.received(this.name, data)
      this.onFrame(isBinary ? '' : rawDataToString(data))
    })
    ws.on('open', () => {
      this.helloTimer = setTimeout(() => {
        this.helloTimeouts++
        this.logger.warn({ participant: this.name, helloTimeoutMs: this.options.helloTimeoutMs }, 'participant sent no hello in time; closing the connection to dial again')
        ws.terminate()
      }, this.options.helloTimeoutMs)
      heartbeat = this.heartbeat = new Heartbeat(ws, this.options.heartbeatMs, () => {
        this.logger.warn({ participant: this.name }, 'participant missed a heartbeat; dropping the connection')
        ws.terminate()
      })
    })
    ws.on('unexpected-response', (_req, res) => {
      this.logger.error({ participant: this.name, status: res.statusCode }, 'participant refused the connection')
      ws.terminate()
    })
    ws.on('error', (err) => {
      if (isFrameTooLarge(err)) {
        this.refusedFrames++
        this.logger.warn({ participant: this.name, code: 'frame_too_large', maxFrameBytes: limits.maxFrameBytes }, 'refused a frame over the size limit; the connection is closed (1009) and dialled again')
        return
      }
      this.logger.debug({ participant: this.name, err: err.message }, 'participant connection error')
    })
    ws.on('close', () => {
      heartbeat?.stop()
      clearTimeout(this.helloTimer)
      if (this.ws !== ws) return
      this.ws = undefined
      this.outbox = undefined
      if (this.ready) {
        this.ready = false
        this.logger.warn({ participant: this.name }, 'participant disconnected')
        this.events.disconnected(this.name)
      }
      this.scheduleReconnect()
    })
  }

  private onFrame(data: string): void {
    const messages = acceptedMessages(decodeToCoordinator(data), this, { logger: this.logger, fields: { participant: this.name } })
    if (messages.length === 0) return
    marks.frame('recv', messages)
    for (const msg of messages) {
      if (msg.type === 'hello') {
        this.onHello(msg)
      } else if (this.ready) {
        this.events.message(this.name, msg)
      }
    }
  }

  private onHello(hello: Extract<ToCoordinator, { type: 'hello' }>): void {
    if (hello.participant !== this.name) {
      this.logger.error({ participant: this.name, claimed: hello.participant }, 'participant introduced itself under another name; check PARTICIPANTS')
      this.ws?.terminate()
      return
    }
    const ws = this.ws
    if (this.ready || (ws !== undefined && this.admitting === ws)) return // a repeated hello changes nothing
    clearTimeout(this.helloTimer)
    const admit = this.events.admit
    if (ws === undefined || admit === undefined) {
      this.becomeReady()
      return
    }
    this.admitting = ws
    admit(this.name, hello.replica).then(
      (admission) => {
        if (this.admitting === ws) this.admitting = undefined
        if (this.ws !== ws) return // closed while the check ran: the next connection says hello again
        if (admission.admitted) {
          this.becomeReady()
          this.outbox?.push({ type: 'admission', admitted: true })
          return
        }
        this.logger.error({ participant: this.name, code: 'replica_unknown', replica: hello.replica, reason: admission.reason }, 'refused the participant\'s replica')
        ws.send(encodeFrame([{ type: 'admission', admitted: false, reason: admission.reason }]))
        ws.close(REPLICA_REFUSED_CLOSE, 'replica_unknown')
      },
      (err: unknown) => {
        if (this.admitting === ws) this.admitting = undefined
        this.logger.error({ participant: this.name, err }, 'could not check the participant\'s replica; dropping the connection')
        ws.terminate()
      },
    )
  }

  private becomeReady(): void {
    if (this.wasConnected) linkMeter.reconnected(this.name)
    this.wasConnected = true
    this.ready = true
    this.backoffMs = this.options.minBackoffMs
    this.logger.info({ participant: this.name }, 'participant connected')
    this.events.connected(this.name)
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs)
    this.reconnectTimer = setTimeout(() => {
      this.connect()
    }, delay)
  }
}
