// The cluster console: a browser module served by the coordinator (GET /console), no build step.
// It reads the coordinator's API: /v1/cluster (every node, gathered), /v1/trace (recent transactions),
// /v1/transactions/:txId and its /trace (the space-time diagram), /v1/chaos/* (the fault buttons).

const SVG = 'http://www.w3.org/2000/svg'
const REFRESH_MS = 1000
const $ = (id) => document.getElementById(id)

let token = sessionStorage.getItem('txn-console-token') ?? ''
let lastCounts
let shownTxId
/** Whether the notice line shows a refresh's error (cleared by the next good refresh) rather than what an action did. */
let noticeFromRefresh = false

/** A GET or POST to the coordinator's API with the admin token; throws with the API's error message. */
async function api(path, init = {}) {
  const headers = { accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) }
  if (token !== '') headers.authorization = `Bearer ${token}`
  const res = await fetch(path, { ...init, headers })
  const body = await res.json().catch(() => null)
  if (res.status === 401 || res.status === 403) {
    notice(`${res.status}: ${body?.message ?? 'a token is needed'}; enter the admin token above`)
    throw new Error(body?.message ?? String(res.status))
  }
  if (!res.ok) throw new Error(body?.message ?? `HTTP ${res.status}`)
  return body
}

function notice(text) {
  $('notice').textContent = text
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  for (const c of children) node.append(c)
  return node
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  if (text !== undefined) node.textContent = text
  return node
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows)
}

// ---- cluster view ------------------------------------------------------------------

async function refreshCluster() {
  const cluster = await api('/v1/cluster')
  const c = cluster.coordinator
  $('coordinator-name').textContent = `— ${c.name} (${c.protocol === 'paxos-commit' ? 'Paxos Commit' : '2PC'})`
  const now = performance.now()
  if (lastCounts) {
    const seconds = (now - lastCounts.at) / 1000
    const rate = (n) => ((n / seconds) || 0).toFixed(1)
    $('rates').textContent = `${c.inFlight} in flight · committed ${rate(cluster.answered.committed - lastCounts.committed)}/s · aborted ${rate(cluster.answered.aborted - lastCounts.aborted)}/s (answered by ${c.name} since it started: ${cluster.answered.committed} committed, ${cluster.answered.aborted} aborted)`
  }
  lastCounts = { at: now, ...cluster.answered }

  const links = Object.entries(c.links).map(([name, l]) => `${name} ${l.connected ? '✓' : '✗'}`).join(' ')
  const rows = [el('tr', { 'data-node': c.name }, el('td', {}, c.name), el('td', {}, 'coordinator'), el('td', { class: 'up' }, 'up'), el('td', {}, links), el('td', {}, String(c.inFlight)), el('td', {}, '—'), el('td', {}, '—'))]
  const inDoubt = []
  for (const p of cluster.participants) {
    const s = p.status ?? {}
    const peers = s.peers ? Object.entries(s.peers).map(([name, l]) => `${name} ${l.connected ? '✓' : '✗'}`).join(' ') : ''
    const health = p.up ? (p.connected ? 'up' : 'up, not linked to this coordinator') : `down (${p.error})`
    const count = p.inDoubt?.count ?? 0
    rows.push(el('tr', { 'data-node': p.name }, el('td', {}, p.name), el('td', {}, 'participant'), el('td', { class: p.up && p.connected ? 'up' : 'down' }, health), el('td', {}, peers), el('td', {}, p.up ? String(s.prepared ?? '') : ''), el('td', {}, p.up ? String(s.locks ?? '') : ''), el('td', {}, p.up ? String(count) : '?')))
    for (const t of p.inDoubt?.transactions ?? []) {
      const r = t.recovery ? `${t.recovery.leader} at ballot ${t.recovery.ballot}${t.recovery.phase ? ` (${t.recovery.phase})` : ''}` : 'waiting for its coordinator'
      const row = el('tr', { 'data-tx': t.txId }, el('td', {}, p.name), el('td', {}, t.txId), el('td', {}, `${(t.ageMs / 1000).toFixed(1)} s`), el('td', {}, t.keys.join(', ')), el('td', {}, r))
      row.addEventListener('click', () => void showTransaction(t.txId))
      inDoubt.push(row)
    }
  }
  fill($('nodes').tBodies[0], rows)
  fill($('in-doubt').tBodies[0], inDoubt.length > 0 ? inDoubt : [el('tr', {}, el('td', { colspan: '5' }, 'nothing in doubt'))])
  $('faults').hidden = !cluster.chaos
  if (cluster.chaos) await refreshFaults()
}

// ---- faults ----------------------------------------------------------------------------

async function refreshFaults() {
  const [{ nodes }, { active }] = await Promise.all([api('/v1/chaos/nodes'), api('/v1/chaos/faults')])
  const select = $('fault-node')
  const chosen = select.value
  if (select.options.length !== nodes.length) select.replaceChildren(...nodes.map((n) => el('option', { value: n.name }, `${n.name} (${n.role})`)))
  if (chosen) select.value = chosen
  const rows = active.map((f) => el('tr', { 'data-fault-id': f.id, 'data-node': f.node, 'data-kind': f.kind }, el('td', {}, f.id), el('td', {}, f.kind + (f.permanent ? ' (for good)' : '')), el('td', {}, f.node), el('td', {}, new Date(f.startedAt).toLocaleTimeString()), el('td', {}, f.healAt ? new Date(f.healAt).toLocaleTimeString() : 'when healed')))
  fill($('active-faults').tBodies[0], rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: '5' }, 'no active fault'))])
}

async function inject(kind) {
  const node = $('fault-node').value
  const durationMs = Number($('fault-duration').value)
  try {
    const fault = await api('/v1/chaos/faults', { method: 'POST', body: JSON.stringify({ kind, node, durationMs }) })
    notice(`${fault.kind} ${fault.node}: fault ${fault.id}`)
    await refreshFaults()
  } catch (err) {
    notice(`${kind} ${node} failed: ${err.message}`)
  }
}

// ---- transactions ------------------------------------------------------------------------

async function refreshRecent() {
  const { transactions } = await api('/v1/trace?limit=15')
  fill($('recent').tBodies[0], transactions.map((t) => {
    const row = el('tr', { 'data-tx': t.txId }, el('td', {}, t.txId), el('td', { class: t.answer ?? '' }, t.answer ?? '—'), el('td', {}, String(t.events)))
    row.addEventListener('click', () => void showTransaction(t.txId))
    return row
  }))
}

/** A txId, or a client id looked up first. */
async function showTransaction(ref) {
  try {
    let status
    try {
      status = await api(`/v1/transactions/${encodeURIComponent(ref)}`)
    } catch {
      status = await api(`/v1/transactions?id=${encodeURIComponent(ref)}`)
    }
    shownTxId = status.txId
    const flow = await api(`/v1/transactions/${encodeURIComponent(status.txId)}/trace`).catch((err) => ({ error: err.message }))
    renderTransaction(status, flow)
  } catch (err) {
    notice(`${ref}: ${err.message}`)
  }
}

function renderTransaction(status, flow) {
  $('transaction').hidden = false
  $('tx-id').textContent = status.txId
  const outcome = status.state ?? status.outcome ?? ''
  $('tx-outcome').textContent = outcome
  $('tx-outcome').className = outcome
  const details = []
  const add = (k, v) => details.push(el('dt', {}, k), el('dd', {}, v))
  if (status.id) add('client id', status.id)
  if (status.votes) add('votes', Object.entries(status.votes).map(([p, v]) => `${p}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · '))
  // acks: { participant: true | false } (a list in older answers).
  if (status.acks) add('acks', Array.isArray(status.acks) ? status.acks.join(', ') : Object.entries(status.acks).map(([p, acked]) => `${p}: ${acked ? 'acked' : 'not yet'}`).join(' · '))
  if (status.reasons) add('reasons', status.reasons.map((r) => `${r.participant}: ${r.code} — ${r.message}`).join(' · '))
  if (status.learnedFrom) add('learned from', status.learnedFrom)
  $('tx-details').replaceChildren(...details)
  if (flow.error) {
    $('diagram').replaceChildren(el('p', {}, `No diagram: ${flow.error}`))
    $('alignment').textContent = ''
    return
  }
  $('diagram').replaceChildren(drawFlow(flow))
  $('alignment').textContent = alignmentNote(flow)
}

function alignmentNote(flow) {
  const parts = flow.nodes.map((n) => {
    if (n.error) return `${n.node}: no trace (${n.error})`
    if (n.alignment === 'self') return `${n.node}: the clock everything is drawn on`
    if (n.alignment === 'shared-clock') return `${n.node}: the same monotonic clock (offset measured within ±${n.uncertaintyUs} µs of 0)`
    return `${n.node}: offset ${n.offsetUs} µs ±${n.uncertaintyUs} µs, estimated from the trace fetch's round trip`
  })
  return `Times are each node's CLOCK_MONOTONIC, lined up on ${flow.nodes[0].node}'s. ${parts.join('; ')}.`
}

// ---- the space-time diagram ------------------------------------------------------------------

const CLIENT = 'client'
const LEFT = 70
const TOP = 50
const COLUMN = 170
const HEIGHT = 560
/** The height an idle gap is squeezed to. */
const GAP_PX = 34

/**
 * The vertical time axis. A long quiet stretch (a vote timeout's wait, a
 * paused node) would squash every message into a thin band, so such a gap
 * between events is drawn GAP_PX high, and the rest of the height is shared
 * linearly by the active time.
 */
function timeAxis(flow) {
  const times = [0, flow.spanUs]
  for (const m of flow.messages) for (const t of [m.sentUs, m.receivedUs]) if (t !== null) times.push(t)
  for (const w of flow.writes) for (const t of [w.startUs, w.doneUs]) if (t !== null) times.push(t)
  for (const m of flow.marks) times.push(m.atUs)
  times.sort((a, b) => a - b)
  const span = Math.max(flow.spanUs, 1)
  // Largest first: a gap is squeezed while it is over 2 ms and at least 8 times the next largest (a paused
  // node's 3 s silence, then a vote timeout's 300 ms wait; never the few-ms spaces between a commit's steps).
  const candidates = []
  for (let i = 1; i < times.length; i++) candidates.push({ fromUs: times[i - 1], toUs: times[i] })
  candidates.sort((a, b) => (b.toUs - b.fromUs) - (a.toUs - a.fromUs))
  const gaps = []
  for (const [i, g] of candidates.entries()) {
    const len = g.toUs - g.fromUs
    const next = candidates[i + 1] ? candidates[i + 1].toUs - candidates[i + 1].fromUs : 0
    if (len <= 2000 || len < 8 * next) break
    gaps.push(g)
  }
  gaps.sort((a, b) => a.fromUs - b.fromUs)
  const idleUs = gaps.reduce((sum, g) => sum + g.toUs - g.fromUs, 0)
  const activeUs = Math.max(span - idleUs, 1)
  const pxPerUs = (HEIGHT - gaps.length * GAP_PX) / activeUs
  const y = (us) => {
    let px = TOP
    let from = 0
    for (const g of gaps) {
      if (us <= g.fromUs) break
      px += (g.fromUs - from) * pxPerUs
      if (us < g.toUs) return px + ((us - g.fromUs) / (g.toUs - g.fromUs)) * GAP_PX
      px += GAP_PX
      from = g.toUs
    }
    return px + (us - from) * pxPerUs
  }
  const segments = []
  let from = 0
  for (const g of gaps) {
    segments.push({ fromUs: from, toUs: g.fromUs })
    from = g.toUs
  }
  segments.push({ fromUs: from, toUs: span })
  return { y, gaps, segments, activeUs }
}

function arrowClass(label) {
  if (label === 'commit' || label === 'ack' || label.startsWith('outcome committed')) return 'decision'
  if (label === 'abort' || label.startsWith('vote no') || label.startsWith('outcome aborted') || label.includes('refused')) return 'refusal'
  if (/^(1a|1b|2a|2b|resolved)/.test(label)) return 'paxos'
  return ''
}

/** One lifeline per node (time runs down), an arrow per message, a bar per write, a diamond per timer. */
function drawFlow(flow) {
  // A node the gatherer did not ask (another coordinator, whose address this one does not know) still gets
  // a lifeline when a message names it, beside the coordinators: its arrows are drawn from the other ends' traces.
  const asked = flow.nodes.map((n) => n.node)
  const unasked = []
  for (const m of flow.messages) for (const name of [m.from, m.to]) if (name !== '?' && !asked.includes(name) && !unasked.includes(name)) unasked.push(name)
  const coordinators = flow.nodes.filter((n) => n.role === 'coordinator').map((n) => n.node)
  const names = [CLIENT, ...coordinators, ...unasked, ...flow.nodes.filter((n) => n.role !== 'coordinator').map((n) => n.node)]
  const x = (name) => LEFT + Math.max(0, names.indexOf(name)) * COLUMN
  const axis = timeAxis(flow)
  const y = axis.y
  const root = svg('svg', { viewBox: `0 0 ${LEFT + (names.length - 1) * COLUMN + 120} ${TOP + HEIGHT + 40}`, role: 'img', 'aria-label': `space-time diagram of ${flow.txId}` })
  const defs = svg('defs')
  for (const [id, color] of [['head', '#2858b8'], ['head-decision', '#17803d'], ['head-refusal', '#c0262d'], ['head-paxos', '#7a3fb8'], ['head-client', '#1d232a']]) {
    const marker = svg('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' })
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }))
    defs.append(marker)
  }
  root.append(defs)

  // Time ticks: milliseconds since the first event, per stretch of activity; an idle gap is drawn as a break.
  const right = LEFT + (names.length - 1) * COLUMN + 60
  for (const seg of axis.segments) {
    const stepMs = niceStep(axis.activeUs / 1000 / 8)
    for (let ms = Math.ceil(seg.fromUs / 1000 / stepMs) * stepMs; ms * 1000 <= seg.toUs; ms += stepMs) {
      root.append(svg('line', { class: 'gridline', x1: LEFT - 40, x2: right, y1: y(ms * 1000), y2: y(ms * 1000) }))
      root.append(svg('text', { class: 'tick', x: 4, y: y(ms * 1000) + 3 }, `${+ms.toFixed(3)} ms`))
    }
  }
  for (const gap of axis.gaps) {
    const y1 = y(gap.fromUs) + 4
    root.append(svg('rect', { class: 'idle-gap', 'data-kind': 'gap', x: LEFT - 40, y: y1, width: right - LEFT + 40, height: GAP_PX - 8 }))
    root.append(svg('text', { class: 'tick', x: 4, y: y1 + GAP_PX / 2 }, `… ${((gap.toUs - gap.fromUs) / 1000).toFixed(1)} ms with nothing traced`))
  }

  for (const name of names) {
    const node = flow.nodes.find((n) => n.node === name)
    root.append(svg('text', { class: 'node-name', x: x(name), y: TOP - 22, 'text-anchor': 'middle' }, name))
    if (node?.error) root.append(svg('text', { class: 'tick', x: x(name), y: TOP - 8, 'text-anchor': 'middle' }, 'no trace'))
    else if (node === undefined && name !== CLIENT) root.append(svg('text', { class: 'tick', x: x(name), y: TOP - 8, 'text-anchor': 'middle' }, 'not asked'))
    root.append(svg('line', { class: 'lifeline', 'data-kind': 'lifeline', 'data-node': name, x1: x(name), x2: x(name), y1: TOP - 4, y2: TOP + HEIGHT + 10 }))
  }

  for (const w of flow.writes) {
    const y1 = y(w.startUs)
    const y2 = w.doneUs === null ? y1 + 12 : Math.max(y(w.doneUs), y1 + 2)
    const rect = svg('rect', { class: `write ${w.doneUs === null ? 'open' : w.sync ? 'sync' : 'nosync'}`, 'data-kind': 'write', 'data-node': w.node, 'data-write': w.kind, x: x(w.node) - 5, y: y1, width: 10, height: y2 - y1 })
    rect.append(svg('title', {}, `${w.node}: ${w.kind} write${w.sync ? ' (synced)' : ''}, ${w.doneUs === null ? 'never reported durable' : `${((w.doneUs - w.startUs) / 1000).toFixed(3)} ms`}`))
    root.append(rect, svg('text', { class: 'tick', x: x(w.node) + 8, y: y1 + 9 }, w.kind))
  }

  for (const m of flow.marks) {
    if (m.kind === 'request' || m.kind === 'answer') {
      const [from, to] = m.kind === 'request' ? [CLIENT, m.node] : [m.node, CLIENT]
      root.append(svg('line', { class: 'client-arrow', 'data-kind': 'arrow', 'data-label': m.kind === 'request' ? 'request' : `answer ${m.label}`, 'data-from': from, 'data-to': to, x1: x(from), x2: x(to), y1: y(m.atUs), y2: y(m.atUs), 'marker-end': 'url(#head-client)' }))
      root.append(svg('text', { x: (x(from) + x(to)) / 2, y: y(m.atUs) - 4, 'text-anchor': 'middle' }, m.kind === 'request' ? m.label : `answer: ${m.label}`))
    } else {
      const cy = y(m.atUs)
      const cx = x(m.node)
      const diamond = svg('path', { class: 'timer', 'data-kind': 'timer', 'data-node': m.node, d: `M${cx},${cy - 6} L${cx + 6},${cy} L${cx},${cy + 6} L${cx - 6},${cy} z` })
      diamond.append(svg('title', {}, `${m.node}: ${m.label}`))
      root.append(diamond, svg('text', { x: cx + 9, y: cy + 4 }, m.label))
    }
  }

  for (const m of flow.messages) {
    const kind = arrowClass(m.label)
    const from = m.from === '?' ? undefined : m.from
    const x1 = from === undefined ? x(m.to) - COLUMN / 3 : x(from)
    const y1 = y(m.sentUs ?? m.receivedUs)
    const lost = m.receivedUs === null
    // Lost on the way: dashed most of the way to its receiver; dropped (its link down): a stub.
    const x2 = lost ? x1 + (x(m.to) - x1) * (m.dropped ? 0.25 : 0.8) : x(m.to)
    const y2 = lost ? y1 + 10 : y(m.receivedUs)
    const line = svg('line', { class: `arrow ${kind}${lost ? ' lost' : ''}${m.dropped ? ' dropped' : ''}`, 'data-kind': 'arrow', 'data-label': m.label, 'data-from': m.from, 'data-to': m.to, x1, y1, x2, y2, 'marker-end': lost ? '' : `url(#head${kind ? `-${kind}` : ''})` })
    line.append(svg('title', {}, `${m.label}: ${m.from} → ${m.to}, ${m.sentUs === null ? 'sent (not in the traces)' : `sent ${(m.sentUs / 1000).toFixed(3)} ms`}, ${m.dropped ? 'not sent: no link to it' : lost ? 'not received' : `received ${(m.receivedUs / 1000).toFixed(3)} ms`}`))
    root.append(line)
    if (lost) root.append(svg('text', { class: 'refusal', x: x2 + 3, y: y2 + 4, fill: '#c0262d' }, '✕'))
    const tx = x1 + (x2 - x1) * 0.5
    const ty = y1 + (y2 - y1) * 0.5
    root.append(svg('text', { x: tx, y: ty - 3, 'text-anchor': 'middle' }, m.label))
  }
  return root
}

function niceStep(ms) {
  for (const step of [0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]) if (step >= ms) return step
  return 10000
}

// ---- wiring -------------------------------------------------------------------------------------

async function tick() {
  try {
    await Promise.all([refreshCluster(), refreshRecent()])
    if (noticeFromRefresh) notice('')
    noticeFromRefresh = false
  } catch (err) {
    notice(err.message)
    noticeFromRefresh = true
  }
}

$('token').value = token
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  token = $('token').value
  sessionStorage.setItem('txn-console-token', token)
  void tick()
})
$('lookup-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const ref = $('lookup').value.trim()
  if (ref !== '') void showTransaction(ref)
})
for (const button of document.querySelectorAll('[data-fault]')) button.addEventListener('click', () => void inject(button.dataset.fault))
$('heal').addEventListener('click', () => {
  api('/v1/chaos/heal', { method: 'POST' })
    .then((r) => { notice(`healed ${r.healed.length}`) }, (err) => { notice(`heal failed: ${err.message}`) })
    .then(refreshFaults)
    .catch((err) => { notice(err.message) })
})
void tick()
setInterval(() => void tick(), REFRESH_MS)
// A shown transaction is redrawn while it may still change (acks, a recovery).
setInterval(() => { if (shownTxId !== undefined && !$('transaction').hidden) void showTransaction(shownTxId) }, 5 * REFRESH_MS)
