import type { PaxosMsg, ToParticipant } from '../../shared/core/protocol/messages.ts'
import type { NamedUrl } from '../../shared/io/runtime/node-list.ts'
import { ParticipantLink } from '../../shared/io/net/participant-link.ts'
import type { Logger } from '../../shared/io/runtime/logger.ts'
import { ACCEPTOR_PATH, AcceptorServer } from './acceptor-server.ts'
import type { UpgradeHandler } from './peer-server.ts'
import type { TlsMaterial } from '../../shared/io/runtime/tls.ts'

/** A participant's acceptor endpoint, from the URL PEERS gives for it (its HTTP port, any path replaced). */
function acceptorUrl(url: string): string {
  const u = new URL(url)
  u.pathname = ACCEPTOR_PATH
  return u.toString()
}

/**
 * Paxos Commit's network at one participant: its acceptor endpoint, which
 * the others dial, and a link to every other participant's, on which alone
 * this node sends to it.
 */
export class AcceptorNetwork {
  readonly acceptor: AcceptorServer
  readonly links: ReadonlyMap<string, ParticipantLink>

  constructor(me: string, peers: readonly NamedUrl[], token: string, deliver: (msg: PaxosMsg) => void, logger: Logger, tls?: TlsMaterial) {
    this.acceptor = new AcceptorServer(me, token, deliver, logger, { heartbeatMs: 2000, maxConnections: 2 * peers.length })
    this.links = new Map(
      peers.filter((p) => p.name !== me).map((p) => [p.name, new ParticipantLink(p.name, acceptorUrl(p.url), token, {
        connected: () => undefined,
        disconnected: () => undefined,
        message: (name, msg) => { logger.warn({ peer: name, type: msg.type }, 'an acceptor sent a message on the link this node dialled; ignored') },
      }, logger, tls ? { tls } : {})] as const),
    )
  }

  /** The upgrades it takes on the participant's HTTP port. */
  get upgrades(): Record<string, UpgradeHandler> {
    return { [ACCEPTOR_PATH]: this.acceptor.onUpgrade }
  }

  /** False when the link to `to` is down: the message is dropped, as any on a broken link. */
  send(to: string, msg: ToParticipant): boolean {
    return this.links.get(to)?.send(msg) ?? false
  }

  start(): void {
    for (const link of this.links.values()) link.start()
  }

  close(): void {
    this.acceptor.close()
    for (const link of this.links.values()) link.close()
  }
}
