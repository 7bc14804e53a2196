import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import WebSocket from 'ws'
import { probe } from '../../scripts/lib/local-cluster.ts'
import { http, startCluster, submit, waitSettled, type LocalCluster } from '../helpers/cluster.ts'
import { nodeLogText } from '../helpers/node-log.ts'
import { makeCerts, pemOf, type Pem } from '../helpers/certs.ts'

/**
 * TLS against real processes, with certificates from `npm run certs`
 * (scripts/certs.sh, openssl): under Paxos Commit, so that both kinds of
 * peer link (coordinator → participant, participant → participant) are
 * wss:// and verified. A commit over https://; a peer whose certificate
 * another CA signed (or that has none) refused at both peer endpoints, with
 * the cluster token in hand; a client that does not trust the CA cannot
 * talk to a node, nor a node whose certificate it does not trust.
 */

/** Dials a peer endpoint with the cluster token: 101 when taken, the refusal's status, or the TLS error's code. */
async function dial(url: string, token: string, tls: Partial<Pem>): Promise<number | string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, ...tls, handshakeTimeout: 10000 })
    ws.on('upgrade', () => {
      resolve(101)
      ws.terminate()
    })
    ws.on('unexpected-response', (request, response) => {
      resolve(response.statusCode ?? 0)
      request.destroy()
    })
    ws.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
  })
}

t.test('a cluster over TLS: commits over https, wss peer links verified against the CA, foreign certificates refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-tls-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  const ours = join(root, 'ours')
  const foreign = join(root, 'foreign')
  makeCerts(ours, 'coordinator', 'p1', 'p2', 'p3')
  makeCerts(foreign, 'coordinator', 'p2')

  const cluster: LocalCluster = await startCluster(t, { tlsDir: ours, env: { COMMIT_PROTOCOL: 'paxos-commit' } })
  t.match(cluster.url, /^https:\/\//, 'the coordinator serves https://')

  const told = await submit(cluster, [{ key: 'tls/a', value: '1' }, { key: 'tls/b', value: '2' }])
  t.match(told, { status: 200, body: { outcome: 'committed' } }, 'a commit over https://, its 2PC and Paxos messages over wss://')
  const all = await waitSettled(cluster)
  for (const r of all) t.same(r.entries['tls/a'], { value: '1', version: 1 }, `${r.participant} holds it (read over https://)`)
  t.match((await http(`${cluster.url}/v1/keys/tls%2Fb`, { dispatcher: cluster.dispatcher })).body, { value: '2' }, 'a read over https://')

  const port = cluster.spec('p1').port
  t.not(await probe(`http://127.0.0.1:${port}/healthz`), 200, 'plain http:// gets no answer from a TLS port')
  await t.rejects(fetch(`${cluster.url}/healthz`), 'a client that does not trust the CA cannot talk to a node')

  const peer = `wss://127.0.0.1:${port}/v1/peer?coordinator=coordinator`
  const acceptor = `wss://127.0.0.1:${port}/v1/acceptor`
  const trustOurs = { ca: pemOf(ours, 'coordinator').ca }
  const foreignCert = { cert: pemOf(foreign, 'coordinator').cert, key: pemOf(foreign, 'coordinator').key }
  t.equal(await dial(peer, cluster.token, { ...trustOurs, ...foreignCert }), 401, 'the coordinator endpoint refuses a certificate from another CA, though the token is right')
  t.equal(await dial(peer, cluster.token, trustOurs), 401, 'and a connection with no certificate')
  t.equal(await dial(peer, cluster.token, pemOf(ours, 'coordinator')), 409, 'the CA\'s own certificate gets past TLS and the token: 409 peer_busy, the coordinator\'s link being healthy')
  t.equal(await dial(acceptor, cluster.token, { ...trustOurs, cert: pemOf(foreign, 'p2').cert, key: pemOf(foreign, 'p2').key }), 401, 'the acceptor endpoint refuses a certificate from another CA')
  t.equal(await dial(acceptor, cluster.token, trustOurs), 401, 'and a connection with no certificate')
  t.equal(await dial(acceptor, cluster.token, pemOf(ours, 'p2')), 101, 'and takes the CA\'s own')
  // The participant sends its chain, the CA included: a client that does not trust that CA sees it self-signed.
  t.equal(await dial(peer, cluster.token, { ...pemOf(foreign, 'coordinator') }), 'SELF_SIGNED_CERT_IN_CHAIN', 'a node trusting another CA refuses the participant\'s certificate')

  const refusals = nodeLogText(cluster.options.dataRoot, 'p1').split('\n').filter((l) => l.includes('refused a peer connection: its certificate is not one TLS_CA signed'))
  t.equal(refusals.length, 4, 'p1 logged each of the four refusals')
  t.match(refusals.join('\n'), /"path":"\/v1\/acceptor"/, 'naming the endpoint')
  t.equal((await http<{ outcome: string }>(`${cluster.url}/v1/transactions`, { body: { writes: [{ key: 'tls/after', value: '3' }] }, dispatcher: cluster.dispatcher })).body.outcome, 'committed', 'and the cluster commits on')
})
