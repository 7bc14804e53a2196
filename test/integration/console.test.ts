import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { chromium, type Page } from 'playwright-core'
import { freePort, repoRoot } from '../../scripts/lib/local-cluster.ts'
import { startLocalChaos } from '../../scripts/lib/local-chaos.ts'
import { createLogger } from '../../shared/io/runtime/logger.ts'
import { parseAccessTokens } from '../../shared/io/runtime/access-tokens.ts'
import { http, orphanOfC1, startCluster, type LocalCluster, type TxnResponse } from '../helpers/cluster.ts'

/**
 * The console as a person uses it, in Debian's headless Chromium driven by
 * playwright-core (never a downloaded browser): against a real cluster with
 * an admin token and the chaos API, it commits a transaction through the
 * API, finds it in the page, opens its diagram and counts lifelines and
 * arrows, opens an aborted one, injects a fault with a button and sees it
 * listed. Screenshots go to test-output/console/ (CONSOLE_SCREENSHOTS names
 * another directory: the README's images are made so).
 */

const CHROMIUM = '/usr/bin/chromium'
const ADMIN = 'console-admin-token-0123456789'
const admin = { authorization: `Bearer ${ADMIN}` }
const shots = process.env.CONSOLE_SCREENSHOTS ?? join(repoRoot, 'test-output', 'console')

const submit = async (cluster: LocalCluster, writes: unknown[], extra: Record<string, unknown> = {}) => http<TxnResponse>(`${cluster.url}/v1/transactions`, { body: { writes, ...extra }, headers: admin })

// In CI (.ci/run installs chromium) the test never skips: a missing browser fails it.
const skip = !existsSync(CHROMIUM) && process.env.CI === undefined ? `no ${CHROMIUM} here (apt-get install chromium)` : false

t.test('the console: a committed transaction\'s diagram, an aborted one\'s, and a fault from the page', { skip }, async (t) => {
    mkdirSync(shots, { recursive: true })
    const chaosPort = await freePort()
    const cluster = await startCluster(t, { env: { ADMIN_TOKEN: ADMIN, CHAOS_URL: `http://127.0.0.1:${chaosPort}`, LOG_LEVEL: 'info' }, partitionable: true })
    const chaos = await startLocalChaos(cluster, createLogger('chaos', 'warn'), chaosPort, '127.0.0.1', parseAccessTokens('', ADMIN))
    t.teardown(async () => {
      await chaos.engine.healAll(true)
      await chaos.close()
    })
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    t.teardown(async () => browser.close())
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))

    await page.goto(`${cluster.url}/console`)
    await page.waitForSelector('#notice:has-text("token")')
    t.pass('without a token the page asks for one')
    await page.fill('#token', ADMIN)
    await page.click('#token-form button')
    await page.waitForSelector('#nodes tbody tr[data-node="p3"]')
    t.equal(await page.locator('#nodes tbody tr').count(), 4, 'the cluster view lists the coordinator and 3 participants')

    const committed = await submit(cluster, [{ key: 'console/a', value: 'hello' }], { id: 'console-1' })
    t.equal(committed.body.outcome, 'committed', 'a transaction committed through the API')
    const txId = committed.body.txId
    await page.waitForSelector(`#recent tr[data-tx="${txId}"]`)
    await waitAcks(cluster, txId)
    await page.click(`#recent tr[data-tx="${txId}"]`)
    await page.waitForSelector('#diagram svg [data-kind="arrow"][data-label="ack"]')
    await expectCounts(t, page, { lifelines: 5, prepare: 3, 'vote yes': 3, commit: 3, ack: 3 }, 'committed')
    t.equal(await page.textContent('#tx-outcome'), 'committed', 'its outcome')
    t.match(await page.textContent('#alignment'), /same monotonic clock/, 'the page says how the clocks were lined up')
    await page.locator('#transaction').screenshot({ path: join(shots, 'console-committed.png') })

    // By client id, through the lookup box.
    await page.fill('#lookup', 'console-1')
    await page.click('#lookup-form button')
    await shows(page, txId)
    t.pass('a client id finds its transaction')

    // A vote that never comes: p2 paused, the vote timeout aborts.
    cluster.pause('p2')
    const aborted = await submit(cluster, [{ key: 'console/b', value: 'x' }], { timeoutMs: 300 })
    t.equal(aborted.body.outcome, 'aborted', 'aborted on a vote timeout')
    await page.fill('#lookup', aborted.body.txId)
    await page.click('#lookup-form button')
    await shows(page, aborted.body.txId)
    await page.waitForSelector('#diagram svg [data-kind="timer"]')
    t.equal(await page.textContent('#tx-outcome'), 'aborted', 'its outcome')
    t.ok(await page.locator('#diagram svg [data-kind="timer"][data-node="coordinator"]').count() >= 1, 'the vote timer is drawn')
    t.equal(await page.locator('#diagram svg [data-kind="arrow"][data-label^="vote"][data-from="p2"]').count(), 0, 'no vote from p2')
    t.equal(await page.locator('#diagram svg [data-kind="arrow"][data-label="abort"]').count(), 3, 'ABORT to every participant')
    await page.locator('#transaction').screenshot({ path: join(shots, 'console-aborted.png') })
    // Resumed only now: p2 then takes the PREPARE and the ABORT, and its late vote would be drawn.
    cluster.resume('p2')

    // A fault from the page.
    await page.waitForSelector('#faults:not([hidden])')
    await page.waitForSelector('#fault-node option[value="p3"]', { state: 'attached' })
    await page.selectOption('#fault-node', 'p3')
    await page.fill('#fault-duration', '60000')
    await page.click('[data-fault="pause"]')
    await page.waitForSelector('#active-faults tr[data-node="p3"][data-kind="pause"]')
    t.pass('a pause of p3 injected from the page is listed')
    await page.waitForSelector('#nodes tr[data-node="p3"] td.down')
    t.pass('and p3 shows as not answering')
    await page.screenshot({ path: join(shots, 'console-fault.png'), fullPage: true })
    await page.click('#heal')
    await page.waitForSelector('#active-faults tr[data-node="p3"]', { state: 'detached' })
    t.pass('heal all clears it')
    t.same(errors, [], 'no script error in the page')
  })

/** The participants' ACKs come after the client's answer: the diagram is opened once all three are in. */
async function waitAcks(cluster: LocalCluster, txId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const flow = await http<{ messages: { label: string; receivedUs: number | null }[] }>(`${cluster.url}/v1/transactions/${encodeURIComponent(txId)}/trace`, { headers: admin })
    if (flow.body.messages.filter((m) => m.label === 'ack' && m.receivedUs !== null).length === 3) return
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function expectCounts(t: Test, page: Page, expected: Record<string, number>, what: string): Promise<void> {
  for (const [label, n] of Object.entries(expected)) {
    const selector = label === 'lifelines' ? '#diagram svg [data-kind="lifeline"]' : `#diagram svg [data-kind="arrow"][data-label="${label}"]:not(.lost)`
    t.equal(await page.locator(selector).count(), n, `${what}: ${n} × ${label}`)
  }
}

/** Waits until the transaction view shows txId (the page's own text, read in the page). */
async function shows(page: Page, txId: string): Promise<void> {
  await page.waitForSelector(`#tx-id:text-is("${txId}")`)
}

t.test('the console under Paxos Commit: the coordinator died after the votes; the other coordinator\'s page shows the gap where it died and the participants\' recovery ballot', { skip }, async (t) => {
  mkdirSync(shots, { recursive: true })
  const cluster = await startCluster(t, { coordinators: 2, env: { ADMIN_TOKEN: ADMIN, COMMIT_PROTOCOL: 'paxos-commit', RECOVERY_AFTER_MS: '300', LOG_LEVEL: 'info' }, nodeEnv: { c1: { TXN_FAILPOINTS: 'coordinator.beforeDecisionLogged=crash' } } })
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  t.teardown(async () => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))

  const txId = await orphanOfC1(t, cluster, 'console/orphan', 'console-orphan', admin)

  await page.goto(`${cluster.urlOf('c2')}/console`)
  await page.fill('#token', ADMIN)
  await page.click('#token-form button')
  await page.fill('#lookup', 'console-orphan')
  await page.click('#lookup-form button')
  await shows(page, txId)
  await page.waitForSelector('#diagram svg [data-kind="arrow"][data-label^="1a b"]')
  t.equal(await page.textContent('#tx-outcome'), 'committed', 'found by its client id at c2: committed')
  t.equal(await page.locator('#diagram svg [data-kind="lifeline"]').count(), 6, 'client, c2, p1..p3, and c1 (not asked: drawn from what the participants saw)')
  t.ok(await page.locator('#diagram svg [data-kind="arrow"].lost[data-to="c1"]').count() >= 3, 'the 2bs to c1, never received: the gap where it died')
  t.ok(await page.locator('#diagram svg [data-kind="timer"]').count() >= 1, 'a participant\'s recovery timer')
  t.ok(await page.locator('#diagram svg [data-kind="arrow"][data-label^="1a b"]:not(.lost)').count() >= 2, 'its phase 1a at a higher ballot, received')
  await page.locator('#transaction').screenshot({ path: join(shots, 'console-recovery.png') })
  t.same(errors, [], 'no script error in the page')
})
