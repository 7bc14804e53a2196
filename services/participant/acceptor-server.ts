import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { decodeToParticipant } from '../../shared/core/protocol/codec.ts'
import { limits, type PaxosMsg, type ToParticipant } from '../../shared/core/protocol/messages.ts'
import { Heartbeat } from '../../shared/io/net/heartbeat.ts'
import { acceptedMessages } from '../../shared/io/net/accepted-messages.ts'
import { ACCEPTOR_INBOUND, linkMeter } from '../../shared/io/net/link-meter.ts'
import { Outbox } from '../../shared/io/net/outbox.ts'
import { isFrameTooLarge, rawDataToString } from '../../shared/io/net/raw-data.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { marks } from '../../shared/io/runtime/marks.ts'
import { refuseUpgrade, tokenMatches } from './peer-server.ts'

export const ACCEPTOR_PATH = '/v1/acceptor'

/** What another participant may send here: Paxos Commit's messages, never a coordinator's. */
const PAXOS_TYPES: ReadonlySet<string> = new Set(['phase1a', 'phase1b', 'phase2a', 'phase2b', 'outcome', 'resolved'] satisfies PaxosMsg['type'][])

const isPaxos = (msg: ToParticipant): msg is PaxosMsg => PAXOS_TYPES.has(msg.type)

export interface AcceptorServerOptions {
  heartbeatMs: number
  /** Connections at once: one per other participant, and as many again for ones that replace a dead socket. */
  maxConnections: number
  /**
   * Whether a coordinator admitted this replica. An empty replica that lost its data must not answer as an
   * acceptor (it forgot its promises and acceptances): until admitted, every acceptor connection is refused.
   */
  admitted: () => boolean
}

/**
 * The participant's acceptor endpoint under Paxos Commit: the other
 * participants dial it (`/v1/acceptor`, with the cluster token) and send
 * phase 1a/1b/2a/2b, outcomes and `resolved` over it. Each dials every other
 * one and sends only on the link it dialled, so this side only receives,
 * after a `hello` that names this node (the dialler checks it is the node it
 * meant). Anything but a Paxos message is refused and logged, as is a
 * malformed frame; the connection stays.
 */
export class AcceptorServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes })
  private readonly connections = new Set<{ ws: WebSocket; heartbeat: Heartbeat }>()
  refusedFrames = 0
  refusedMessages = 0
  refusedConnections = 0

  constructor(
    private readonly participant: string,
    private readonly token: string,
    private readonly deliver: (msg: PaxosMsg) => void,
    private readonly logger: Logger,
    private readonly options: AcceptorServerOptions,
  ) {}

  get connected(): number {
    return this.connections.size
  }

  readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (!tokenMatches(request.headers.authorization, this.token)) {
      this.logger.warn({ remote: request.socket.remoteAddress }, 'refused an acceptor connection without the cluster token')
      refuseUpgrade(socket, 'unauthorized')
      return
    }
    if (!this.options.admitted()) {
      this.refusedConnections++
      this.logger.warn({ remote: request.socket.remoteAddress, code: 'replica_not_admitted' }, 'refused an acceptor connection: no coordinator has admitted this replica yet')
      refuseUpgrade(socket, 'replica_not_admitted')
      return
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.refusedConnections++
      this.logger.warn({ remote: request.socket.remoteAddress, code: 'peer_busy', maxConnections: this.options.maxConnections }, 'refused an acceptor connection: too many at once')
      refuseUpgrade(socket, 'peer_busy')
      return
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.onConnection(ws)
    })
  }

  close(): void {
    for (const c of this.connections) {
      c.heartbeat.stop()
      c.ws.terminate()
    }
    this.connections.clear()
    this.wss.close()
  }

  private onConnection(ws: WebSocket): void {
    const connection = {
      ws,
      heartbeat: new Heartbeat(ws, this.options.heartbeatMs, () => {
        this.logger.warn('a participant on the acceptor link missed a heartbeat; dropping its connection')
        ws.terminate()
      }),
    }
    this.connections.add(connection)
    ws.on('message', (data, isBinary) => {
      connection.heartbeat.heardFrom()
      linkMeter.received(ACCEPTOR_INBOUND, data)
      this.onFrame(isBinary ? undefined : rawDataToString(data))
    })
    ws.on('error', (err) => {
      if (isFrameTooLarge(err)) {
        this.refusedFrames++
        this.logger.warn({ code: 'frame_too_large', maxFrameBytes: limits.maxFrameBytes }, 'refused a frame over the size limit on the acceptor link; ws closes it (1009), the peer dials again')
        return
      }
      this.logger.debug({ err: err.message }, 'acceptor connection error')
    })
    ws.on('close', () => {
      connection.heartbeat.stop()
      this.connections.delete(connection)
    })
    new Outbox(() => ws, this.logger, { peer: ACCEPTOR_INBOUND }).push({ type: 'hello', participant: this.participant })
  }

  private onFrame(data: string | undefined): void {
    const decoded = data === undefined ? ({ ok: false, error: 'binary frame' } as const) : decodeToParticipant(data)
    const messages: PaxosMsg[] = []
    for (const msg of acceptedMessages(decoded, this, { logger: this.logger, on: ' on the acceptor link' })) {
      if (isPaxos(msg)) messages.push(msg)
      else {
        this.refusedMessages++
        this.logger.warn({ code: 'bad_frame', type: msg.type, txId: 'txId' in msg ? msg.txId : undefined }, 'refused a coordinator message on the acceptor link')
      }
    }
    if (messages.length === 0) return
    marks.frame('recv', messages)
    for (const msg of messages) this.deliver(msg)
  }
}
