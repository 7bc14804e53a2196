import { Counter, Histogram } from 'prom-client'
import type { ReplyBody } from '../../shared/core/coordinator/types.ts'
import type { ParticipantLink } from '../../shared/io/net/participant-link.ts'
import { NodeMetrics } from '../../shared/io/metrics/node-metrics.ts'
import type { LevelStore } from '../../shared/io/storage/level-store.ts'
import type { CoordinatorDriver } from './driver.ts'

/**
 * The coordinator's metrics: transactions answered by outcome and abort
 * reason, commit latency, transactions in flight, connected participants,
 * its decision log's batches and fsyncs, and what its links refused (plus
 * NodeMetrics' own). A transaction counts once it is answered with an
 * outcome (a 200): refusals (503s) are counted by code as error answers.
 */
export class CoordinatorMetrics extends NodeMetrics {
  private readonly transactions: Counter<'outcome' | 'reason'>
  private readonly commitLatency: Histogram

  constructor(id: string, store: LevelStore) {
    super(id, 'coordinator', store)
    this.transactions = new Counter({ name: 'txn_transactions_total', help: 'Transactions answered with an outcome, by outcome and (for an abort) its first reason', labelNames: ['outcome', 'reason'], registers: [this.registry] })
    this.commitLatency = new Histogram({
      name: 'txn_commit_latency_seconds',
      help: 'From the request to the committed answer',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    })
  }

  /** The running coordinator: its machine's state and its links, read on each scrape. */
  watch(driver: CoordinatorDriver, links: readonly ParticipantLink[]): void {
    this.gauge('txn_transactions_in_flight', 'Transactions started and not yet decided', [], () => [[{}, driver.machine.status().inFlight]])
    this.gauge('txn_participants_connected', 'Participants whose link is up', [], () => [[{}, driver.connectedCount]])
    this.mirroredCounter('txn_refused_frames_total', 'Frames refused whole on a link, by link', ['link'], () => [[{ link: 'participant' }, links.reduce((n, l) => n + l.refusedFrames, 0)]])
  }

  /** A transaction request was answered: `seconds` after it came in. */
  answered(body: ReplyBody, seconds: number): void {
    if (!body.ok) return
    const { outcome, reasons } = body.result
    this.transactions.inc({ outcome, reason: outcome === 'committed' ? 'none' : (reasons?.[0]?.code ?? 'unstated') })
    if (outcome === 'committed') this.commitLatency.observe(seconds)
  }
}
