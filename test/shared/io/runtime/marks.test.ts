import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Marks, marks } from '../../../../shared/io/runtime/marks.ts'

t.test('off unless a file is named: marking and flushing write nothing', async (t) => {
  t.equal(marks.enabled, process.env.TXN_MARKS !== undefined && process.env.TXN_MARKS !== '')
  const off = new Marks(undefined)
  t.equal(off.enabled, false)
  t.equal(new Marks('').enabled, false, 'an empty TXN_MARKS is off too')
  off.mark('http request')
  off.frame('send', [{ type: 'prepare' }])
  off.flush()
})

t.test('on: marks are buffered, appended every flushEvery marks and on flush, with monotonic times', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'txn-marks-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'node.marks')
  const m = new Marks(file, 2)
  t.equal(m.enabled, true)
  m.mark('send prepare')
  t.equal(existsSync(file), false, 'buffered until flushEvery marks')
  m.mark('write sync prepare')
  m.mark('write done')
  const lines = (): string[] => readFileSync(file, 'utf8').trim().split('\n')
  t.same(lines().map((l) => l.split(' ').slice(1).join(' ')), ['send prepare', 'write sync prepare'])
  m.flush()
  m.flush()
  const all = lines()
  t.same(all.map((l) => l.split(' ').slice(1).join(' ')), ['send prepare', 'write sync prepare', 'write done'], 'a second flush adds nothing')
  m.frame('recv', [{ type: 'ack' }, { type: 'vote' }, { type: 'ack' }])
  m.flush()
  t.equal(lines().at(-1)!.split(' ').slice(1).join(' '), 'recv ack+vote', 'a frame is named by its distinct message types')
  const times = all.map((l) => BigInt(l.split(' ')[0]!))
  t.ok(times[0]! <= times[1]! && times[1]! <= times[2]!, 'monotonic nanoseconds')
})
