import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { decodeToParticipant } from '../../shared/protocol/codec.ts'
import { limits, type ToParticipant } from '../../shared/protocol/messages.ts'
import { Outbox } from '../../shared/net/outbox.ts'
import { rawDataToString } from '../../shared/net/raw-data.ts'
import type { Logger } from '../../shared/runtime/logger.ts'
import { marks } from '../../shared/runtime/marks.ts'

export const PEER_PATH = '/v1/peer'

export interface PeerEvents {
  connected: () => void
  disconnected: () => void
  message: (msg: ToParticipant) => void
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * The participant's end of the coordinator link, on the participant's HTTP
 * port. Only an upgrade with the cluster token is accepted (else 401); a newer
 * coordinator connection replaces an older one.
 */
export class PeerServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes })
  private current: WebSocket | undefined
  readonly outbox = new Outbox(() => this.current)
  refusedFrames = 0

  constructor(
    private readonly participant: string,
    private readonly token: string,
    private readonly events: PeerEvents,
    private readonly logger: Logger,
  ) {}

  get isConnected(): boolean {
    return this.current !== undefined
  }

  attach(server: Server): void {
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onUpgrade(request, socket, head)
    })
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate()
    this.wss.close()
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (request.url ?? '').split('?')[0]
    if (path !== PEER_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (!tokenMatches(request.headers.authorization, this.token)) {
      this.logger.warn({ remote: request.socket.remoteAddress }, 'refused a peer connection without the cluster token')
      const body = JSON.stringify({ error: 'unauthorized', message: 'Missing or wrong cluster token' })
      socket.end(`HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
      return
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.onConnection(ws)
    })
  }

  private onConnection(ws: WebSocket): void {
    const previous = this.current
    this.current = ws
    if (previous) {
      this.logger.info('a newer coordinator connection replaces the old one')
      previous.terminate()
    }
    ws.on('message', (data, isBinary) => {
      if (this.current !== ws) return
      const decoded = isBinary ? ({ ok: false, error: 'binary frame' } as const) : decodeToParticipant(rawDataToString(data))
      if (!decoded.ok) {
        this.refusedFrames++
        this.logger.warn({ code: 'bad_frame', error: decoded.error }, 'refused a malformed frame')
        return
      }
      marks.frame('recv', decoded.messages)
      for (const msg of decoded.messages) this.events.message(msg)
    })
    ws.on('error', (err) => {
      this.logger.debug({ err: err.message }, 'coordinator connection error')
    })
    ws.on('close', () => {
      if (this.current !== ws) return
      this.current = undefined
      this.logger.warn('coordinator disconnected')
      this.events.disconnected()
    })
    this.outbox.push({ type: 'hello', participant: this.participant })
    this.logger.info('coordinator connected')
    this.events.connected()
  }
}
