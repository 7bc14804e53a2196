import { createServer, type Server } from 'node:http'
import t from 'tap'
import { freePort, waitFor } from '../../scripts/lib/local-cluster.ts'
import type { PaxosMsg, ToParticipant } from '../../shared/core/protocol/messages.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { AcceptorNetwork, MAX_HELD_PER_PEER } from '../../services/participant/acceptor-network.ts'

/**
 * Paxos Commit's participant-to-participant network, in this process over
 * real sockets on 127.0.0.1 (in integration/: it loads the link adapters,
 * which the unit tests' 100% gate does not cover): a message for a peer whose
 * link is not up yet is held and delivered once it is, not dropped. The
 * dropped ballot-0 2a of a node that had just (re)started made its vote
 * reach too few acceptors, and its transaction abort, in two CI runs.
 */

const TOKEN = 'acceptor-hold-token'
const logger = createLogger('test', 'silent')
const twoA = (i: number): ToParticipant => ({ type: 'phase2a', txId: `c1:1.${i}`, ballot: 0, values: { p1: 'prepared' } })

/** p2's acceptor endpoint on `port`, as its participant serves it (an HTTP server's upgrades). */
async function serveAcceptor(network: AcceptorNetwork, port: number): Promise<Server> {
  const server = createServer((_req, res) => { res.writeHead(404).end() })
  server.on('upgrade', network.upgrades['/v1/acceptor']!)
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok))
  return server
}

t.test('a message for a peer whose link is not up yet is held, then delivered once the peer is there', async (t) => {
  const [port1, port2, port3] = [await freePort(), await freePort(), await freePort()]
  const peers = [{ name: 'p1', url: `ws://127.0.0.1:${port1}` }, { name: 'p2', url: `ws://127.0.0.1:${port2}` }, { name: 'p3', url: `ws://127.0.0.1:${port3}` }]
  const atP2: PaxosMsg[] = []
  const p1 = new AcceptorNetwork('p1', peers, TOKEN, () => undefined, logger)
  const p2 = new AcceptorNetwork('p2', peers, TOKEN, (msg) => { atP2.push(msg) }, logger)
  t.teardown(() => { p1.close(); p2.close() })
  p1.start()

  t.ok(p1.send('p2', twoA(1)), 'sent to p2 before p2 exists: taken')
  t.ok(p1.send('p2', twoA(2)))
  t.equal(p1.heldCount, 2, 'and held')
  t.notOk(p1.send('p9', twoA(3)), 'a name that is no peer is refused')

  const server = await serveAcceptor(p2, port2)
  t.teardown(() => { server.close() })
  await waitFor(async () => atP2.length === 2, 15000, 'p2 to receive what p1 held')
  t.same(atP2, [twoA(1), twoA(2)], 'p2 got both, in order, once p1\'s link to it came up')
  t.equal(p1.heldCount, 0, 'nothing left held')
  t.ok(p1.send('p2', twoA(4)), 'with the link up, a message leaves at once')
  await waitFor(async () => atP2.length === 3, 15000, 'p2 to receive the next')

  // p3 never comes: the hold is bounded, the oldest go first.
  for (let i = 0; i < MAX_HELD_PER_PEER + 6; i++) p1.send('p3', twoA(100 + i))
  t.equal(p1.heldCount, MAX_HELD_PER_PEER, `at most ${MAX_HELD_PER_PEER} held for a peer`)
  t.equal(p1.droppedWhileDown, 6, 'the six oldest dropped, and counted')
})
