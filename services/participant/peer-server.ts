import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { apiErrors, errorBody, type ApiErrorCode } from '../../shared/core/api-errors.ts'
import { decodeToParticipant } from '../../shared/core/protocol/codec.ts'
import { COORDINATOR_NODE, limits, type ToCoordinator, type ToParticipant } from '../../shared/core/protocol/messages.ts'
import { Heartbeat } from '../../shared/io/net/heartbeat.ts'
import { acceptedMessages } from '../../shared/io/net/accepted-messages.ts'
import { linkMeter } from '../../shared/io/net/link-meter.ts'
import { Outbox } from '../../shared/io/net/outbox.ts'
import { isFrameTooLarge, rawDataToString } from '../../shared/io/net/raw-data.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { marks } from '../../shared/io/runtime/marks.ts'

export const PEER_PATH = '/v1/peer'

/** Each names the coordinator whose link it is about. */
import type { ReplicaClaim } from '../../shared/io/storage/replica-identity.ts'

export interface PeerEvents {
  connected: (coordinator: string) => void
  disconnected: (coordinator: string) => void
  message: (msg: ToParticipant, coordinator: string) => void
  /** A coordinator's answer to this replica's hello (admitted, or refused with the reason). */
  admission?: (admission: Extract<ToParticipant, { type: 'admission' }>, coordinator: string) => void
}

export interface PeerServerOptions {
  /** How often the coordinator link is pinged; a missed pong drops it (a frozen or cut-off coordinator). */
  heartbeatMs: number
  /** How long a competing connection waits for the current link to answer a ping before it may replace it. */
  probeMs: number
}

const DEFAULT_OPTIONS: PeerServerOptions = { heartbeatMs: 2000, probeMs: 1000 }

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** One accepted coordinator connection, with its own outbox: nothing queued for it can leave on another. */
interface PeerConnection {
  readonly coordinator: string
  readonly ws: WebSocket
  readonly outbox: Outbox
  heartbeat: Heartbeat
}

/**
 * The participant's end of the coordinator link, on the participant's HTTP
 * port. Only an upgrade with the cluster token is accepted (else 401).
 *
 * A coordinator names itself in the upgrade's query (`?coordinator=c1`;
 * without it, COORDINATOR_NODE), and must be one of `coordinators` (else 404
 * unknown_node). One link per coordinator at a time, and a healthy one is
 * never displaced: a second upgrade with the token and the same name makes
 * the server ping the current link; if it
 * answers within `probeMs`, the newcomer is refused with `409 peer_busy`. If
 * it does not (the coordinator died without closing, froze, or was cut off),
 * the old link is dropped (the machine sees it disconnect) and the newcomer
 * takes its place. A restarted coordinator therefore gets in at once when
 * its predecessor's socket is closed, and within `probeMs` otherwise.
 */
export class PeerServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes })
  private readonly options: PeerServerOptions
  /** The link of each coordinator that has one. */
  private readonly current = new Map<string, PeerConnection>()
  /** Coordinators whose link was up before: the next connection of one is a reconnect. */
  private readonly everConnected = new Set<string>()
  /** Whole frames refused (not JSON, not an array of 1..N messages, binary). */
  refusedFrames = 0
  /** Messages refused one by one inside otherwise good frames. */
  refusedMessages = 0
  /** Connections refused because a healthy coordinator link was in place. */
  refusedConnections = 0
  /** Which replica this is: told to every coordinator in the hello (replica-identity.ts). */
  replica: ReplicaClaim | undefined

  constructor(
    private readonly participant: string,
    private readonly token: string,
    private readonly coordinators: readonly string[],
    private readonly events: PeerEvents,
    private readonly logger: Logger,
    options: Partial<PeerServerOptions> = {},
  ) {
    this.options = { ...DEFAULT_OPTIONS, ...options }
  }

  /** Whether any coordinator's link is up. */
  get isConnected(): boolean {
    return this.current.size > 0
  }

  /** The coordinators whose link is up, in configuration order. */
  get connectedCoordinators(): string[] {
    return this.coordinators.filter((c) => this.current.has(c))
  }

  /** Queues a message for a coordinator's link; false when it has none (the message is dropped). */
  send(coordinator: string, msg: ToCoordinator): boolean {
    return this.current.get(coordinator)?.outbox.push(msg) ?? false
  }

  /**
   * Takes the HTTP server's upgrades: its own path, and those of `others`
   * (path → handler), which share the port. Under TLS (`verifyCertificates`)
   * every one of them first needs a client certificate that TLS_CA signed:
   * the token alone is not enough.
   */
  attach(server: Server, others: Record<string, UpgradeHandler> = {}, verifyCertificates = false): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // The socket is ours from here, and it had no 'error' listener: a client that resets it while we refuse it
      // (or while a busy check waits) made an uncaught ECONNRESET, which stopped the whole participant. ws adds
      // its own once it takes the socket; this one stays, and only logs.
      socket.on('error', (err) => { this.logger.debug({ remote: request.socket.remoteAddress, err: err.message }, 'a peer connection failed during its upgrade') })
      // A TLSSocket under TLS (its fields read loosely: a plain socket has neither).
      const { authorized, authorizationError } = request.socket as Partial<Pick<TLSSocket, 'authorized' | 'authorizationError'>>
      if (verifyCertificates && authorized !== true) {
        this.refusedConnections++
        this.logger.warn({ remote: request.socket.remoteAddress, path: pathOf(request), reason: authorizationError === undefined ? 'no client certificate' : String(authorizationError) }, 'refused a peer connection: its certificate is not one TLS_CA signed')
        refuseUpgrade(socket, 'unauthorized')
        return
      }
      const other = Object.hasOwn(others, pathOf(request)) ? others[pathOf(request)] : undefined
      if (other) other(request, socket, head)
      else void this.onUpgrade(request, socket, head)
    })
  }

  close(): void {
    for (const conn of this.current.values()) conn.heartbeat.stop()
    for (const client of this.wss.clients) client.terminate()
    this.wss.close()
  }

  private async onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (pathOf(request) !== PEER_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (!tokenMatches(request.headers.authorization, this.token)) {
      this.logger.warn({ remote: request.socket.remoteAddress }, 'refused a peer connection without the cluster token')
      refuseUpgrade(socket, 'unauthorized')
      return
    }
    const coordinator = coordinatorNamed(request)
    if (!this.coordinators.includes(coordinator)) {
      this.refusedConnections++
      this.logger.warn({ remote: request.socket.remoteAddress, coordinator: coordinator.slice(0, 64), code: 'unknown_node' }, 'refused a coordinator connection: not one of COORDINATORS')
      refuseUpgrade(socket, 'unknown_node')
      return
    }
    const incumbent = this.current.get(coordinator)
    if (incumbent && (await answersPing(incumbent.ws, this.options.probeMs))) {
      this.refusedConnections++
      this.logger.warn({ remote: request.socket.remoteAddress, coordinator, code: 'peer_busy' }, 'refused a second connection of a coordinator: its current one answers its heartbeat')
      refuseUpgrade(socket, 'peer_busy')
      return
    }
    if (this.current.get(coordinator) !== incumbent || socket.destroyed) {
      // Another newcomer took the place while this one waited, or this one gave up.
      refuseUpgrade(socket, 'peer_busy')
      return
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.onConnection(coordinator, ws)
    })
  }

  private onConnection(coordinator: string, ws: WebSocket): void {
    const incumbent = this.current.get(coordinator)
    if (incumbent) {
      this.logger.warn({ coordinator }, 'the coordinator link did not answer a ping; a new connection replaces it')
      this.drop(incumbent)
    }
    const conn: PeerConnection = {
      coordinator,
      ws,
      outbox: new Outbox(() => ws, this.logger, { peer: coordinator }),
      heartbeat: new Heartbeat(ws, this.options.heartbeatMs, () => {
        this.logger.warn({ coordinator }, 'the coordinator missed a heartbeat; dropping its connection')
        this.drop(conn)
      }),
    }
    this.current.set(coordinator, conn)
    if (this.everConnected.has(coordinator)) linkMeter.reconnected(coordinator)
    this.everConnected.add(coordinator)
    ws.on('message', (data, isBinary) => {
      conn.heartbeat.heardFrom()
      linkMeter.received(coordinator, data)
      if (this.current.get(coordinator) === conn) this.onFrame(coordinator, isBinary ? undefined : rawDataToString(data))
    })
    ws.on('error', (err) => {
      if (isFrameTooLarge(err)) {
        this.refusedFrames++
        this.logger.warn({ code: 'frame_too_large', maxFrameBytes: limits.maxFrameBytes }, 'refused a frame over the size limit; ws closes the connection (1009), the coordinator dials again')
        return
      }
      this.logger.debug({ err: err.message, coordinator }, 'coordinator connection error')
    })
    ws.on('close', () => {
      if (this.current.get(coordinator) !== conn) return
      this.logger.warn({ coordinator }, 'coordinator disconnected')
      this.drop(conn)
    })
    conn.outbox.push({ type: 'hello', participant: this.participant, ...(this.replica ? { replica: this.replica } : {}) })
    this.logger.info({ coordinator }, 'coordinator connected')
    this.events.connected(coordinator)
  }

  private onFrame(coordinator: string, data: string | undefined): void {
    const decoded = data === undefined ? ({ ok: false, error: 'binary frame' } as const) : decodeToParticipant(data)
    const messages = acceptedMessages(decoded, this, { logger: this.logger })
    if (messages.length === 0) return
    marks.frame('recv', messages)
    for (const msg of messages) {
      if (msg.type === 'admission') this.events.admission?.(msg, coordinator)
      else this.events.message(msg, coordinator)
    }
  }

  /** Ends a link for good: the machine learns at once, and nothing queued for it is sent anywhere. */
  private drop(conn: PeerConnection): void {
    conn.heartbeat.stop()
    conn.ws.terminate()
    if (this.current.get(conn.coordinator) !== conn) return
    this.current.delete(conn.coordinator)
    this.events.disconnected(conn.coordinator)
  }
}

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '').split('?')[0]!
}

/** The coordinator an upgrade says it is: `?coordinator=` (COORDINATOR_NODE without it). */
function coordinatorNamed(request: IncomingMessage): string {
  const query = (request.url ?? '').split('?')[1] ?? ''
  return new URLSearchParams(query).get('coordinator') ?? COORDINATOR_NODE
}

/**
 * Resolves true if the peer answers a ping within `timeoutMs`. A socket already closing (this side refused a
 * frame over the limit, say) is not a healthy link, whatever pong of an earlier heartbeat ping is still in flight.
 */
function answersPing(ws: WebSocket, timeoutMs: number): Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return Promise.resolve(false)
  return new Promise((resolve) => {
    const done = (answered: boolean): void => {
      clearTimeout(timer)
      ws.off('pong', onPong)
      ws.off('close', onClose)
      resolve(answered)
    }
    const onPong = (): void => { done(true) }
    const onClose = (): void => { done(false) }
    const timer = setTimeout(() => { done(false) }, timeoutMs)
    ws.on('pong', onPong)
    ws.on('close', onClose)
    try {
      ws.ping()
    } catch {
      done(false)
    }
  })
}

const REASON_PHRASES = { 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 503: 'Service Unavailable' } as const

export function refuseUpgrade(socket: Duplex, code: Extract<ApiErrorCode, 'unauthorized' | 'peer_busy' | 'unknown_node' | 'replica_not_admitted'>): void {
  const body = JSON.stringify(errorBody(code))
  const status = apiErrors[code].statusCode
  const reason = REASON_PHRASES[status]
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
}
