import { Counter } from 'prom-client'
import type { ParticipantEffect } from '../../shared/core/participant/types.ts'
import { NodeMetrics } from '../../shared/io/metrics/node-metrics.ts'
import type { LevelStore } from '../../shared/io/storage/level-store.ts'
import type { AcceptorNetwork } from './acceptor-network.ts'
import type { ParticipantDriver } from './driver.ts'
import type { PeerServer } from './peer-server.ts'

/**
 * A participant's metrics: its votes by outcome and reason, what it holds in
 * doubt and for how long, locks held, reads waiting and reads answered "in
 * doubt", its store's batches and fsyncs, and the frames its link ends
 * refused (plus NodeMetrics' own). Votes and reads are counted from the
 * effects the driver performs.
 */
export class ParticipantMetrics extends NodeMetrics {
  private readonly prepares: Counter<'vote' | 'reason'>
  private readonly readsInDoubt: Counter
  private readonly keysLoaded: Counter

  constructor(id: string, store: LevelStore) {
    super(id, 'participant', store)
    this.prepares = new Counter({ name: 'txn_prepares_total', help: 'Votes sent, by vote and (for a NO) its reason', labelNames: ['vote', 'reason'], registers: [this.registry] })
    this.keysLoaded = new Counter({ name: 'txn_replica_keys_loaded_total', help: 'Keys the replica cache read from LevelDB (cache misses)', registers: [this.registry] })
    this.readsInDoubt = new Counter({ name: 'txn_reads_in_doubt_total', help: 'Reads answered key_in_doubt: the key stayed held by a prepared transaction past READ_WAIT_MS', registers: [this.registry] })
  }

  /** The running participant: its machine's state (read on each scrape, and the votes and reads it sends) and its link ends. */
  watch(driver: ParticipantDriver, peer: PeerServer, paxos: Pick<AcceptorNetwork, 'acceptor'> | undefined): void {
    this.gauge('txn_in_doubt_transactions', 'Prepared transactions waiting for their outcome', [], () => [[{}, driver.machine.inDoubt(Date.now()).length]])
    this.gauge('txn_in_doubt_oldest_age_seconds', 'How long the oldest transaction in doubt has waited (0 with none)', [], () => [[{}, Math.max(0, ...driver.machine.inDoubt(Date.now()).map((t) => t.ageMs)) / 1000]])
    this.gauge('txn_locks_held', 'Keys locked by prepared transactions', [], () => [[{}, driver.machine.status().locks]])
    this.gauge('txn_replica_cache_bytes', 'The replica cache\'s estimated size, and its budget (CACHE_MB)', ['of'], () => {
      const cache = driver.machine.status().cache
      return cache === undefined ? [] : [[{ of: 'used' }, cache.bytes], [{ of: 'budget' }, cache.maxBytes]]
    })
    this.gauge('txn_reads_waiting', 'Reads held until a prepared transaction on their key resolves', [], () => [[{}, driver.machine.status().readsWaiting]])
    this.mirroredCounter('txn_refused_frames_total', 'Frames refused whole on a link, by link', ['link'], () => [
      [{ link: 'coordinator' }, peer.refusedFrames],
      ...(paxos === undefined ? [] : [[{ link: 'acceptor' }, paxos.acceptor.refusedFrames] as [{ link: string }, number]]),
    ])
    driver.observe = (effect) => { this.performed(effect) }
  }

  private performed(effect: ParticipantEffect): void {
    if (effect.type === 'load') this.keysLoaded.inc(effect.keys.length)
    if (effect.type !== 'send') return
    const { msg } = effect
    if (msg.type === 'vote') this.prepares.inc({ vote: msg.yes ? 'yes' : 'no', reason: msg.yes ? 'none' : (msg.reason?.code ?? 'unstated') })
    else if (msg.type === 'readResult' && msg.inDoubt === true) this.readsInDoubt.inc()
  }
}
