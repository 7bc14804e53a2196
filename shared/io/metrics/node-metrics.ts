import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import Type from 'typebox'
import { apiErrors } from '../../core/api-errors.ts'
import { linkMeter } from '../net/link-meter.ts'
import type { LevelStore } from '../storage/level-store.ts'

/**
 * A node's Prometheus metrics (prom-client): the default process metrics,
 * its links' traffic per peer, its store's batches and fsyncs, and its HTTP
 * error answers by code, all labelled with the node's name; each role adds
 * its own (services/<role>/metrics.ts). Served at GET /metrics.
 *
 * Labels stay bounded: node and peer names come from the configuration,
 * codes and reasons from the catalogues; never a txId, a key or a client id.
 * Numbers the services already count (a store's batches, a link's refused
 * frames) are read on each scrape, as counters that go up by the difference.
 */
export class NodeMetrics {
  readonly registry = new Registry()

  /** Made with the node's store, before the store is opened: every batch it writes is counted. */
  constructor(node: string, role: 'coordinator' | 'participant', store: Pick<LevelStore, 'stats' | 'onBatch'>) {
    this.registry.setDefaultLabels({ node, role })
    collectDefaultMetrics({ register: this.registry })
    this.linkMetrics()
    const batchRequests = new Histogram({
      name: 'txn_store_batch_requests',
      help: 'Write requests per LevelDB batch (the group-commit factor)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [this.registry],
    })
    store.onBatch = (requests) => { batchRequests.observe(requests) }
    const { stats } = store
    this.mirroredCounter('txn_store_batches_total', 'LevelDB batches written', [], () => [[{}, stats.batches]])
    this.mirroredCounter('txn_store_fsyncs_total', 'LevelDB batches written with sync (one fsync each)', [], () => [[{}, stats.syncs]])
  }

  /**
   * A counter of a number something else keeps (it only ever grows): on each
   * scrape it goes up by what that number grew since the last one.
   */
  mirroredCounter<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>): Counter<L> {
    const last = new Map<string, number>()
    return new Counter<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        for (const [labels, value] of read()) {
          const key = JSON.stringify(labels)
          const grown = value - (last.get(key) ?? 0)
          if (grown > 0) this.inc(labels, grown)
          // A value seen at 0 is shown at 0 (the series exists from the start).
          else if (!last.has(key)) this.inc(labels, 0)
          last.set(key, value)
        }
      },
    })
  }

  /** A gauge read on each scrape. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>): Gauge<L> {
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [labels, value] of read()) this.set(labels, value)
      },
    })
  }

  /** Counts every error answer (4xx, 5xx) of the app by status and catalogue code: on the root instance, before any route. */
  countErrors(app: FastifyInstance): void {
    const errors = new Counter({ name: 'txn_http_error_responses_total', help: 'HTTP answers with an error status, by status and error code', labelNames: ['status', 'code'], registers: [this.registry] })
    app.addHook('onSend', async (_request, reply, payload) => {
      const code = reply.statusCode >= 400 ? errorCodeOf(payload) : undefined
      if (code !== undefined) errors.inc({ status: String(reply.statusCode), code })
      return payload
    })
  }

  /** GET /metrics. */
  route(app: FastifyInstance): void {
    app.get('/metrics', { config: { access: 'open' }, schema: { summary: 'Prometheus metrics (text format 0.0.4)', tags: ['operations'], produces: ['text/plain'], response: { 200: Type.String({ description: 'The Prometheus text exposition' }) } } }, async (_request, reply) => {
      return reply.type(this.registry.contentType).send(await this.registry.metrics())
    })
  }

  private linkMetrics(): void {
    const traffic = linkMeter.snapshot.bind(linkMeter)
    const per = (field: 'messagesSent' | 'framesSent' | 'bytesSent' | 'framesReceived' | 'bytesReceived' | 'reconnects') => (): [Partial<Record<'peer', string>>, number][] => traffic().map(([peer, t]) => [{ peer }, t[field]])
    this.mirroredCounter('txn_link_messages_sent_total', 'Protocol messages sent, per peer (several may share a frame)', ['peer'], per('messagesSent'))
    this.mirroredCounter('txn_link_frames_sent_total', 'WebSocket frames sent, per peer', ['peer'], per('framesSent'))
    this.mirroredCounter('txn_link_bytes_sent_total', 'WebSocket payload bytes sent, per peer', ['peer'], per('bytesSent'))
    this.mirroredCounter('txn_link_frames_received_total', 'WebSocket frames received, per peer', ['peer'], per('framesReceived'))
    this.mirroredCounter('txn_link_bytes_received_total', 'WebSocket payload bytes received, per peer', ['peer'], per('bytesReceived'))
    this.mirroredCounter('txn_link_reconnects_total', 'Times a link to a peer came up again after it had been up', ['peer'], per('reconnects'))
  }
}

/**
 * The code of an error answer: its JSON body's `error`, `other` when that is
 * not in the catalogue (bounded labels). Undefined for a body that is no
 * error answer: /readyz's 503 says "not ready" in a body of its own, and a
 * health probe polling it is not a stream of errors.
 */
function errorCodeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return 'other'
  try {
    const code = (JSON.parse(payload) as { error?: unknown }).error
    if (code === undefined) return undefined
    return typeof code === 'string' && Object.hasOwn(apiErrors, code) ? code : 'other'
  } catch {
    return 'other'
  }
}
