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

/** What is held for one peer while its link is down: the newest messages, at most this many. */
export const MAX_HELD_PER_PEER = 1024

/**
 * Paxos Commit's network at one participant: its acceptor endpoint, which
 * the others dial, and a link to every other participant's, on which alone
 * this node sends to it.
 *
 * A message for a peer whose link is not up yet (this node just started, or
 * the peer just came back) is held, not dropped, and leaves once the link
 * is up. Paxos takes a late message as it takes a slow network; a dropped
 * ballot-0 2a, though, made a vote reach too few acceptors and its
 * transaction abort, right after every start and restart (two CI runs on
 * record). The hold is bounded: beyond MAX_HELD_PER_PEER the oldest go.
 */
export class AcceptorNetwork {
  readonly acceptor: AcceptorServer
  readonly links: ReadonlyMap<string, ParticipantLink>
  private readonly held = new Map<string, ToParticipant[]>()
  /** Held messages dropped because the hold was full. */
  droppedWhileDown = 0

  constructor(me: string, peers: readonly NamedUrl[], token: string, deliver: (msg: PaxosMsg) => void, logger: Logger, tls?: TlsMaterial, admitted: () => boolean = () => true) {
    this.acceptor = new AcceptorServer(me, token, deliver, logger, { heartbeatMs: 2000, maxConnections: 2 * peers.length, admitted })
    this.links = new Map(
      peers.filter((p) => p.name !== me).map((p) => [p.name, new ParticipantLink(p.name, acceptorUrl(p.url), token, {
        connected: (name) => { this.release(name) },
        disconnected: () => undefined,
        message: (name, msg) => { logger.warn({ peer: name, type: msg.type }, 'an acceptor sent a message on the link this node dialled; ignored') },
      }, logger, tls ? { tls } : {})] as const),
    )
  }

  /** The upgrades it takes on the participant's HTTP port. */
  get upgrades(): Record<string, UpgradeHandler> {
    return { [ACCEPTOR_PATH]: this.acceptor.onUpgrade }
  }

  /** Sends on the link to `to`, or holds the message until that link is up; false only for a name that is no peer. */
  send(to: string, msg: ToParticipant): boolean {
    const link = this.links.get(to)
    if (!link) return false
    if (link.send(msg)) return true
    const queue = this.held.get(to) ?? []
    if (queue.length >= MAX_HELD_PER_PEER) {
      queue.shift()
      this.droppedWhileDown++
    }
    queue.push(msg)
    this.held.set(to, queue)
    return true
  }

  /** How many messages wait for a link, by peer. */
  get heldCount(): number {
    let n = 0
    for (const q of this.held.values()) n += q.length
    return n
  }

  /** The link to `name` is up: what was held for it leaves, in order (one frame, the outbox coalesces). */
  private release(name: string): void {
    const queue = this.held.get(name)
    if (!queue) return
    this.held.delete(name)
    for (const msg of queue) this.send(name, msg)
  }

  start(): void {
    for (const link of this.links.values()) link.start()
  }

  close(): void {
    this.acceptor.close()
    for (const link of this.links.values()) link.close()
  }
}
