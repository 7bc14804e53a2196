import t from 'tap'
import { RssSampler, anonMb, rssGrowth, rssMb, vmRssMb } from '../../scripts/lib/rss-sampler.ts'

t.test('samples the RSS of live processes; a gone process reads 0', async (t) => {
  t.ok(rssMb(process.pid) > 1, 'this process has a resident set')
  t.equal(rssMb(2 ** 22 + 12345), 0, 'no such process')
  t.ok(anonMb(process.pid) > 1 && anonMb(process.pid) <= rssMb(process.pid), 'its anonymous part is a part of it')
  t.equal(anonMb(2 ** 22 + 12345), 0, 'none for no such process')
  t.equal(vmRssMb('Name:\tkthreadd\nVmRSS:\t  2048 kB\n'), 2)
  t.equal(vmRssMb('Name:\tkthreadd\nState:\tS (sleeping)\n'), 0, 'a kernel thread has no VmRSS line')
  const sampler = new RssSampler({ self: process.pid }, 10)
  await new Promise((resolve) => setTimeout(resolve, 60))
  const series = sampler.stop()
  t.ok(series.atS.length >= 3, 'a sample at the start, while running, and at the stop')
  t.equal(series.mb.self!.length, series.atS.length)
  t.ok(series.mb.self!.every((mb) => mb > 1))
  t.equal(series.anonMb.self!.length, series.atS.length)
  t.ok(series.anonMb.self!.every((mb, i) => mb > 1 && mb < series.mb.self![i]!), 'the anonymous part of each sample, short of the whole by the file pages (the node binary at least)')
})

t.test('growth is the peak after the warm-up against the peak during it', async (t) => {
  const series = { atS: [0, 30, 60, 90, 120], mb: { flat: [100, 120, 118, 119, 121], growing: [100, 100, 100, 150, 200], gone: [0, 0, 0, 0, 0] }, anonMb: {} }
  const growth = rssGrowth(series, 60)
  t.same(growth.flat, { warmPeakMb: 120, peakMb: 121, growth: 1 / 120 })
  t.same(growth.growing, { warmPeakMb: 100, peakMb: 200, growth: 1 })
  t.same(growth.gone, { warmPeakMb: 0, peakMb: 0, growth: 0 })
})
