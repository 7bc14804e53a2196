import { createHash } from 'node:crypto'
import { StructuralHash, hashText } from './structural-hash.ts'
import { channelOf, participantNames, type InFlight, type SimConfig, type SimNode, type World } from './world.ts'

/**
 * Canonical forms of worlds for visited-state hashing: equal strings for
 * worlds that are the same state.
 *
 * Symmetry: participants are interchangeable (each holds the whole replica,
 * each has the same configuration, faults may hit any of them), so a world
 * and the same world with participants renamed are the same state up to
 * names. With symmetry on, a world's form is the smallest of its forms under
 * every renaming of the participants, and the search visits one world per
 * class. This is sound because the machines treat participant names only as
 * names: the coordinator iterates its participant list (which changes only
 * the order of sends, a multiset on the network, and of the `reasons` of an
 * abort, which no transition and no invariant reads), and the invariants
 * quantify over all participants alike.
 *
 * Parts of a world (node states, messages, the rest) are hashed by
 * `StructuralHash`, which walks a value once and builds no string; `exact`
 * mode hashes their canonical strings with MD5 instead (several times
 * slower: the reference the fast mode is tested against).
 */
export class Fingerprinter {
  /** Each renaming of the participants, as a name → name map (the identity first). */
  private readonly renamings: Map<string, string>[]
  /** A renaming's index by the images of the names in order, e.g. "p2,p1,p3". */
  private readonly indexOf = new Map<string, number>()
  private readonly names: readonly string[]
  private readonly quotedNames: string[]
  /** What is known of a node, by object identity: valid because searched worlds never change a node once shared. */
  private readonly nodes = new WeakMap<SimNode, NodeForms>()
  /** A message's form under each renaming, by identity: in-flight messages never change. */
  private readonly messages = new WeakMap<InFlight, (string | undefined)[]>()
  private readonly hash: StructuralHash | undefined
  private readonly fifo: boolean
  /** Reused for every digest: the search adds it to the visited set at once. */
  private readonly digestBytes = new Uint8Array(16)

  constructor(config: SimConfig, symmetry: boolean, exact = false) {
    this.names = participantNames(config)
    this.quotedNames = this.names.map((n) => JSON.stringify(n))
    const perms = symmetry ? permutations(this.names) : [this.names]
    this.renamings = perms.map((perm) => new Map(this.names.map((n, i) => [n, perm[i]!])))
    perms.forEach((perm, i) => this.indexOf.set(perm.join(','), i))
    if (!exact) this.hash = new StructuralHash(this.names)
    this.fifo = config.fifo === true
  }

  /** A part's form under renaming i: its structural hash, or in exact mode the MD5 of its canonical string. */
  private form(value: unknown, i: number, rename: (s: string) => string): string {
    return this.hash ? this.hash.of(value, this.renamings[i]) : md5(canonical(value, rename))
  }

  /** The world's fingerprint: a 128-bit hash of its canonical form (see `of`); valid until the next call. */
  digest(world: World): Uint8Array {
    const form = this.of(world)
    return this.hash ? hashText(form, this.digestBytes) : createHash('md5').update(form).digest()
  }

  /**
   * The world's canonical form: the smallest of its forms under the
   * candidate renamings. Candidates give the participants names in the order
   * of their own states' forms (which do not depend on names), trying every
   * order only among participants whose states are equal. A world and any
   * renaming of it have the same participant states, so the same candidate
   * forms: the minimum is the same. Distinct participant states leave one
   * candidate instead of n!. Node states appear as digests of their forms,
   * each computed once per node object.
   */
  of(world: World): string {
    let best: string | undefined
    for (const i of this.candidates(world)) {
      const form = this.under(world, i)
      if (best === undefined || form < best) best = form
    }
    return best!
  }

  private candidates(world: World): number[] {
    if (this.renamings.length === 1) return [0]
    const keyed = this.names.map((name) => ({ name, forms: this.formsOf(world.nodes[name]!) }))
    // A participant state that names participants would change under renaming: no shortcut then.
    if (keyed.some(({ forms }) => forms.namesPeers)) return this.renamings.map((_, i) => i)
    keyed.sort((a, b) => (a.forms.key < b.forms.key ? -1 : a.forms.key > b.forms.key ? 1 : 0))
    // Runs of equal states: every order within a run is a candidate.
    let orders: string[][] = [[]]
    for (let start = 0; start < keyed.length; ) {
      let end = start + 1
      while (end < keyed.length && keyed[end]!.forms.key === keyed[start]!.forms.key) end++
      const run = keyed.slice(start, end).map((k) => k.name)
      orders = orders.flatMap((prefix) => permutations(run).map((perm) => [...prefix, ...perm]))
      start = end
    }
    // The participant at rank r is renamed to the r-th name.
    return orders.map((order) => {
      const images = this.names.map((name) => this.names[order.indexOf(name)]!)
      return this.indexOf.get(images.join(','))!
    })
  }

  private under(world: World, i: number): string {
    const renaming = this.renamings[i]!
    const rename = (s: string): string => renaming.get(s) ?? s
    // Message ids and request ids only name things; two worlds that differ in them alone are the same state.
    const { nextMsgId: _m, nextReqId: _r, net, clients, nodes, ...rest } = world
    const messages = this.fifo ? this.orderedForms(net, i, rename) : net.map((m) => this.messageForm(m, i, rename))
    messages.sort()
    const nodeParts = Object.keys(nodes)
      .map((name) => [rename(name), this.nodeForm(nodes[name]!, i, rename)] as const)
      .sort(byFirst)
      .map(([name, form]) => `${name}=${form}`)
    const clientsForm = clients.map((c) => [c.status, c.outcome, c.txId])
    return `${this.form(rest, i, rename)}|${nodeParts.join('|')}|${messages.join(';')}|${this.form(clientsForm, 0, same)}`
  }

  /** With FIFO connections a message's place in its connection's queue is part of the state. */
  private orderedForms(net: readonly InFlight[], i: number, rename: (s: string) => string): string[] {
    const places = new Map<string, number>()
    return net.map((m) => {
      const channel = channelOf(m)
      const place = places.get(channel) ?? 0
      places.set(channel, place + 1)
      return `${this.messageForm(m, i, rename)}@${place}`
    })
  }

  private formsOf(node: SimNode): NodeForms {
    let forms = this.nodes.get(node)
    if (!forms) {
      // The state without the node's own name: what ranks a participant among its peers.
      const state = { ...node, name: undefined }
      if (this.hash) {
        forms = { key: this.hash.of(state), namesPeers: this.hash.sawWatched, byRenaming: [] }
      } else {
        const stateForm = canonical(state)
        forms = { key: md5(stateForm), namesPeers: this.quotedNames.some((n) => stateForm.includes(n)), byRenaming: [] }
      }
      this.nodes.set(node, forms)
    }
    return forms
  }

  private nodeForm(node: SimNode, i: number, rename: (s: string) => string): string {
    const forms = this.formsOf(node)
    let form = forms.byRenaming[i]
    if (form === undefined) {
      // A state that names no participant reads the same under every renaming: only the node's own name changes.
      form = forms.namesPeers ? this.form(node, i, rename) : forms.key
      forms.byRenaming[i] = form
    }
    return form
  }

  private messageForm(m: InFlight, i: number, rename: (s: string) => string): string {
    let forms = this.messages.get(m)
    if (!forms) {
      forms = []
      this.messages.set(m, forms)
    }
    return (forms[i] ??= this.form([m.from, m.to, m.msg, m.link, m.epoch], i, rename))
  }
}

interface NodeForms {
  /** Digest of the node's state without its own name. */
  key: string
  /** Whether that state names a participant (the coordinator's always does). */
  namesPeers: boolean
  /** Digest of the node's form under each renaming, filled as needed. */
  byRenaming: (string | undefined)[]
}

function md5(form: string): string {
  return createHash('md5').update(form).digest('base64')
}

/** The canonical form of one world, without symmetry or caching (for tests and checks). */
export function fingerprint(world: World): string {
  return canonical(world.nodes) + canonical({ ...world, nodes: undefined, nextMsgId: undefined, nextReqId: undefined, net: world.net.map((m) => [m.from, m.to, m.msg, m.link, m.epoch]) })
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]]
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]))
}

const same = (s: string): string => s
/** Orders [key, …] pairs whose keys are distinct (map and object keys, node names; renaming is a bijection). */
const byFirst = (a: readonly [string, unknown], b: readonly [string, unknown]): number => (a[0] < b[0] ? -1 : 1)

/**
 * Serializes so that equivalent states print the same: maps and object keys
 * sorted, and arrays of plain values (sets in meaning: acks, connected peers,
 * votes seen) sorted. Arrays of objects (writes, reasons) keep their order.
 * Every string, key or value, goes through `rename`. Written with plain loops:
 * it is the model checker's hottest function.
 */
function canonical(value: unknown, rename: (s: string) => string = same): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(rename === same ? value : rename(value))
    case 'number':
    case 'boolean':
      return JSON.stringify(value)
    case 'object':
      if (value === null) return 'null'
      if (value instanceof Map) return `M{${entriesForm(value as Map<unknown, unknown>, rename)}}`
      if (Array.isArray(value)) return arrayForm(value as unknown[], rename)
      // A Set would print as {} whatever it holds: world states must not contain any.
      if (value instanceof Set) throw new TypeError('canonical: a Set in a world state')
      return `{${entriesForm(value as Record<string, unknown>, rename)}}`
    default:
      return 'null'
  }
}

function entriesForm(value: Map<unknown, unknown> | Record<string, unknown>, rename: (s: string) => string): string {
  const entries: [string, unknown][] = []
  if (value instanceof Map) {
    for (const [k, v] of value) entries.push([rename(String(k)), v])
  } else {
    for (const k in value) {
      const v = value[k]
      if (v !== undefined) entries.push([rename(k), v])
    }
  }
  entries.sort(byFirst)
  let out = ''
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!
    out += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${canonical(v, rename)}`
  }
  return out
}

function arrayForm(value: unknown[], rename: (s: string) => string): string {
  const parts: string[] = []
  let plain = true
  for (const v of value) {
    parts.push(canonical(v, rename))
    if (typeof v === 'object' && v !== null) plain = false
  }
  if (plain) parts.sort()
  return `[${parts.join(',')}]`
}
