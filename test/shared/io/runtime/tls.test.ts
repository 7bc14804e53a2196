import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadTls, secureUrl } from '../../../../shared/io/runtime/tls.ts'
import { makeCerts } from '../../../helpers/certs.ts'

t.test('TLS settings are all three or none, and are read and checked at start-up', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-tls-config-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  makeCerts(root, 'p1', 'p2')
  const p1 = { cert: join(root, 'p1.crt'), key: join(root, 'p1.key'), ca: join(root, 'ca.crt') }
  t.equal(loadTls({ cert: '', key: '', ca: '' }), undefined, 'none: plain')
  t.ok(loadTls(p1)?.cert.toString().includes('BEGIN CERTIFICATE'), 'all three: read')
  t.throws(() => loadTls({ ...p1, ca: '' }), { message: 'invalid configuration: TLS_CERT, TLS_KEY and TLS_CA must be set together (or none of them)' })
  t.throws(() => loadTls({ ...p1, key: join(root, 'nope.key') }), { message: `invalid configuration: TLS_KEY cannot be read (ENOENT: ${join(root, 'nope.key')})` })
  t.throws(() => loadTls({ ...p1, key: join(root, 'p2.key') }), { message: /^invalid configuration: TLS_CERT, TLS_KEY and TLS_CA are not a certificate, its key and a CA \(.*\)$/ }, 'a key that is not the certificate\'s')
  t.throws(() => loadTls({ ...p1, cert: root }), { message: `invalid configuration: TLS_CERT cannot be read (EISDIR: ${root})` }, 'a directory')
})

t.test('with TLS on, links are dialled encrypted whatever the scheme they were given', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'txn-tls-url-'))
  t.teardown(() => { rmSync(root, { recursive: true, force: true }) })
  makeCerts(root, 'p1')
  const tls = loadTls({ cert: join(root, 'p1.crt'), key: join(root, 'p1.key'), ca: join(root, 'ca.crt') })
  t.equal(secureUrl('ws://p1:7001/v1/peer?coordinator=c1', tls), 'wss://p1:7001/v1/peer?coordinator=c1')
  t.equal(secureUrl('http://127.0.0.1:8080/readyz', tls), 'https://127.0.0.1:8080/readyz')
  t.equal(secureUrl('wss://p1:7001/v1/acceptor', tls), 'wss://p1:7001/v1/acceptor')
  t.equal(secureUrl('ws://p1:7001/v1/peer', undefined), 'ws://p1:7001/v1/peer', 'TLS off: as given')
})
