import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { claimPort, PORT_CLAIMS } from '../../scripts/lib/port-claims.ts'

t.test('a port is claimed once across processes; a claim whose process is gone is taken over', async (t) => {
  const claims = mkdtempSync(join(tmpdir(), 'txn-claims-'))
  t.teardown(() => { rmSync(claims, { recursive: true, force: true }) })
  t.ok(claimPort(20001, claims), 'free: claimed')
  t.equal(readFileSync(join(claims, '20001'), 'utf8'), String(process.pid), 'the claim names this process')
  t.ok(claimPort(20001, claims), 'this process may ask again')

  writeFileSync(join(claims, '20002'), String(process.ppid))
  t.notOk(claimPort(20002, claims), 'held by a live process (the one that started this test)')

  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  writeFileSync(join(claims, '20003'), gone.stdout)
  t.ok(claimPort(20003, claims), 'held by a process that is gone: taken over')
  t.equal(readFileSync(join(claims, '20003'), 'utf8'), String(process.pid))

  writeFileSync(join(claims, '20004'), '')
  t.notOk(claimPort(20004, claims), 'a claim still being written is not taken')
  t.match(PORT_CLAIMS, /txn-port-claims$/, 'the machine-wide directory, under the temporary directory')
})
